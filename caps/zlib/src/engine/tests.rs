//! Host tests of the engine. Expected messages and vectors come from CPython 3.11/3.13
//! running on stock zlib 1.2.13 (the messages are the same in both versions).

use super::*;

const FOX: &[u8] = b"The quick brown fox jumps over the lazy dog. ";

fn fox(n: usize) -> Vec<u8> {
    FOX.repeat(n)
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// Text with some incompressible bytes: big enough to need several output blocks.
fn mixed(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    let mut x: u32 = 1;
    while out.len() < n {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        if (x >> 16).is_multiple_of(7) {
            out.extend((0..16).map(|i| (x >> (i % 24)) as u8));
        } else {
            out.extend_from_slice(&FOX[..(x >> 20) as usize % FOX.len()]);
        }
    }
    out.truncate(n);
    out
}

fn msg<T>(r: Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.message,
    }
}

fn compressobj(level: i32, wbits: i32) -> Compressor {
    Compressor::new(level, DEFLATED, wbits, DEF_MEM_LEVEL, Z_DEFAULT_STRATEGY, None).unwrap()
}

fn stream_compress(data: &[u8], level: i32, wbits: i32) -> Vec<u8> {
    let mut c = compressobj(level, wbits);
    let mut out = c.compress(data).unwrap();
    out.extend(c.flush(Z_FINISH).unwrap());
    out
}

#[test]
fn checksums() {
    assert_eq!(crc32(b"123456789", 0), 0xCBF4_3926);
    assert_eq!(crc32(b"", 0), 0);
    assert_eq!(crc32(b"hello world", 0), 0x0d4a_1185);
    assert_eq!(crc32(b" world", crc32(b"hello", 0)), 0x0d4a_1185);
    assert_eq!(crc32(b"123456789", 0xffff_ffff), 0xd202_d277);
    let big: Vec<u8> = (0..=255u8).cycle().take(768).collect();
    assert_eq!(crc32(&big, 0), 0xb0c0_df2a);

    assert_eq!(adler32(b"Wikipedia", 1), 0x11E6_0398);
    assert_eq!(adler32(b"hello world", 1), 0x1a0b_045d);
    assert_eq!(adler32(b"", 0), 0);
    assert_eq!(adler32(b"", 1), 1);
    let big: Vec<u8> = (0..=255u8).cycle().take(25600).collect();
    assert_eq!(adler32(&big, 12345), 0x6f18_0127);
}

#[test]
fn version_is_zlib_compatible() {
    let v = version();
    assert!(v.starts_with("1."), "{v}");
    assert!(v.contains("zlib-rs"), "{v}");
}

#[test]
fn one_shot_round_trips_in_every_wbits_form() {
    let data = mixed(200_000);
    for w in 9..=15 {
        let z = compress(&data, 6, w).unwrap();
        assert_eq!(decompress(&z, w, DEF_BUF_SIZE).unwrap(), data, "zlib {w}");
        assert_eq!(decompress(&z, 32 + w, DEF_BUF_SIZE).unwrap(), data, "auto {w}");
        assert_eq!(decompress(&z, 0, DEF_BUF_SIZE).unwrap(), data, "wbits 0 {w}");
        let raw = compress(&data, 6, -w).unwrap();
        assert_eq!(decompress(&raw, -w, DEF_BUF_SIZE).unwrap(), data, "raw {w}");
        let gz = compress(&data, 6, 16 + w).unwrap();
        assert_eq!(decompress(&gz, 16 + w, DEF_BUF_SIZE).unwrap(), data, "gzip {w}");
        assert_eq!(decompress(&gz, 32 + w, DEF_BUF_SIZE).unwrap(), data, "auto gzip {w}");
    }
    for level in -1..=9 {
        let z = compress(&data, level, MAX_WBITS).unwrap();
        assert_eq!(decompress(&z, MAX_WBITS, 1).unwrap(), data, "level {level}");
    }
    assert_eq!(decompress(&compress(b"", 6, 15).unwrap(), 15, 0).unwrap(), b"");
}

#[test]
fn wbits_8_is_9_for_zlib_and_invalid_otherwise() {
    // zlib >= 1.2.9 turns 8 into 9 for zlib streams and refuses it for raw and gzip.
    let z = compress(FOX, 6, 8).unwrap();
    assert_eq!(z[0], 0x18);
    assert_eq!(decompress(&z, 9, DEF_BUF_SIZE).unwrap(), FOX);
    assert_eq!(msg(compress(FOX, 6, -8)), "Bad compression level");
    assert_eq!(msg(compress(FOX, 6, 24)), "Bad compression level");
}

#[test]
fn reads_stock_zlib_output() {
    let data = fox(20);
    let z = hex("78da0bc94855282ccd4cce56482aca2fcf5348cbaf50c82acd2d2856c82f4b2d5228014ae72456552aa4e4a7eb29848c2a1e553caa98da8a0147a5431c");
    assert_eq!(decompress(&z, 15, DEF_BUF_SIZE).unwrap(), data);
    let raw = hex("0bc94855282ccd4cce56482aca2fcf5348cbaf50c82acd2d2856c82f4b2d5228014ae72456552aa4e4a7eb29848c2a1e553caa98da8a01");
    assert_eq!(decompress(&raw, -15, DEF_BUF_SIZE).unwrap(), data);
    let gz = hex("1f8b08000000000002030bc94855282ccd4cce56482aca2fcf5348cbaf50c82acd2d2856c82f4b2d5228014ae72456552aa4e4a7eb29848c2a1e553caa98da8a01e64a66b084030000");
    assert_eq!(decompress(&gz, 31, DEF_BUF_SIZE).unwrap(), data);
    assert_eq!(decompress(&gz, 47, DEF_BUF_SIZE).unwrap(), data);
    // gzip.compress(b"hello gzip\n", mtime=0)
    let gz = hex("1f8b0800000000000203cb48cdc9c95748afca2ce00200397c63560b000000");
    assert_eq!(decompress(&gz, 31, DEF_BUF_SIZE).unwrap(), b"hello gzip\n");
    // Stock zlib's output with zdict=b"fox dog quick".
    let zd = hex("78bb21d904e50bc948853014928af2cbf314d2809259a5b905c50af965a9450a2540e99cc4aa4a90063d8551c5a38a4715535d310047a5431c");
    let mut d = Decompressor::new(15, Some(b"fox dog quick")).unwrap();
    assert_eq!(d.decompress(&zd, 0).unwrap(), data);
    assert!(d.eof());
}

/// Output read back by miniz_oxide, an independent inflate, and the gzip container
/// checked field by field (RFC 1952).
#[test]
fn output_is_readable_by_miniz_oxide() {
    let data = mixed(100_000);
    let raw = compress(&data, 6, -15).unwrap();
    assert_eq!(miniz_oxide::inflate::decompress_to_vec(&raw).unwrap(), data);
    let z = compress(&data, 9, 15).unwrap();
    assert_eq!(miniz_oxide::inflate::decompress_to_vec_zlib(&z).unwrap(), data);
    assert_eq!(u32::from_be_bytes(z[z.len() - 4..].try_into().unwrap()), adler32(&data, 1));

    for gz in [compress(&data, 1, 31).unwrap(), stream_compress(&data, 6, 31)] {
        assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
        assert_eq!(gz[3], 0, "no optional fields");
        let body = &gz[10..gz.len() - 8];
        assert_eq!(miniz_oxide::inflate::decompress_to_vec(body).unwrap(), data);
        let trailer = &gz[gz.len() - 8..];
        assert_eq!(u32::from_le_bytes(trailer[..4].try_into().unwrap()), crc32(&data, 0));
        assert_eq!(u32::from_le_bytes(trailer[4..].try_into().unwrap()), data.len() as u32);
    }
}

#[test]
fn streaming_equals_one_shot() {
    let data = fox(128);
    let one = compress(&data, -1, 15).unwrap();
    assert_eq!(stream_compress(&data, -1, 15), one);

    let mut c = compressobj(6, 15);
    let mut z = Vec::new();
    for chunk in data.chunks(100) {
        z.extend(c.compress(chunk).unwrap());
    }
    z.extend(c.flush(Z_FINISH).unwrap());
    let mut d = Decompressor::new(15, None).unwrap();
    let mut back = Vec::new();
    for chunk in z.chunks(7) {
        back.extend(d.decompress(chunk, 0).unwrap());
    }
    back.extend(d.flush(DEF_BUF_SIZE).unwrap());
    assert_eq!(back, data);
    assert!(d.eof());
    assert!(d.unused_data().is_empty() && d.unconsumed_tail().is_empty());
}

#[test]
fn options_strategies_and_mem_levels() {
    let data = mixed(50_000);
    for strategy in 0..=4 {
        for mem_level in [1, 8, 9] {
            let mut c = Compressor::new(2, DEFLATED, -12, mem_level, strategy, None).unwrap();
            let mut z = c.compress(&data).unwrap();
            z.extend(c.flush(Z_FINISH).unwrap());
            assert_eq!(decompress(&z, -12, DEF_BUF_SIZE).unwrap(), data, "{strategy} {mem_level}");
        }
    }
    let bad = |level, method, wbits, mem, strat| {
        msg(Compressor::new(level, method, wbits, mem, strat, None))
    };
    assert_eq!(bad(1, DEFLATED, 0, 8, 0), INVALID_INIT);
    assert_eq!(bad(1, DEFLATED, 16, 8, 0), INVALID_INIT);
    assert_eq!(bad(10, DEFLATED, 15, 8, 0), INVALID_INIT);
    assert_eq!(bad(1, 9, 15, 8, 0), INVALID_INIT);
    assert_eq!(bad(1, DEFLATED, 15, 0, 0), INVALID_INIT);
    assert_eq!(bad(1, DEFLATED, 15, 10, 0), INVALID_INIT);
    assert_eq!(bad(1, DEFLATED, 15, 8, 5), INVALID_INIT);
    assert_eq!(msg(Decompressor::new(-1, None)), INVALID_INIT);
    assert_eq!(msg(Decompressor::new(7, None)), INVALID_INIT);
    assert_eq!(msg(Decompressor::new(48, None)), INVALID_INIT);
}

#[test]
fn flush_modes() {
    let data = fox(50);
    let mut c = compressobj(6, 15);
    let mut z = c.compress(&data[..500]).unwrap();
    let sync = c.flush(Z_SYNC_FLUSH).unwrap();
    assert!(sync.ends_with(&[0, 0, 0xff, 0xff]));
    z.extend(sync);
    // Everything so far decompresses on its own after a sync flush.
    let mut d = Decompressor::new(15, None).unwrap();
    assert_eq!(d.decompress(&z, 0).unwrap(), &data[..500]);
    for (i, mode) in [Z_FULL_FLUSH, Z_PARTIAL_FLUSH, Z_BLOCK, Z_NO_FLUSH].into_iter().enumerate() {
        let part = &data[500 + i * 200..700 + i * 200];
        z.extend(c.compress(part).unwrap());
        z.extend(c.flush(mode).unwrap());
    }
    assert!(c.flush(Z_NO_FLUSH).unwrap().is_empty());
    z.extend(c.compress(&data[1300..]).unwrap());
    z.extend(c.flush(Z_FINISH).unwrap());
    assert_eq!(decompress(&z, 15, DEF_BUF_SIZE).unwrap(), data);
    // The stream is over: more work is an error, as in CPython.
    assert_eq!(msg(c.flush(Z_FINISH)), "Error -2 while flushing: inconsistent stream state");
    assert_eq!(msg(c.flush(Z_SYNC_FLUSH)), "Error -2 while flushing: inconsistent stream state");
    assert_eq!(msg(c.compress(b"x")), "Error -2 while compressing data: inconsistent stream state");
    assert_eq!(msg(c.copy()), INCONSISTENT_STATE);
    assert!(c.flush(Z_NO_FLUSH).unwrap().is_empty());
    assert_eq!(msg(compressobj(6, 15).flush(99)), "Error -2 while flushing: inconsistent stream state");
}

#[test]
fn max_length_and_unconsumed_tail() {
    let data = mixed(300_000);
    let z = compress(&data, 1, 15).unwrap();
    for max in [1, 10, 1000, 32 * 1024, 100_000] {
        let mut d = Decompressor::new(15, None).unwrap();
        let mut out = d.decompress(&z, max).unwrap();
        assert!(out.len() <= max);
        while !d.unconsumed_tail().is_empty() {
            let tail = d.unconsumed_tail().to_vec();
            let chunk = d.decompress(&tail, max).unwrap();
            assert!(chunk.len() <= max);
            out.extend(chunk);
        }
        out.extend(d.flush(DEF_BUF_SIZE).unwrap());
        assert_eq!(out, data, "max_length {max}");
        assert!(d.eof());
    }
    // max_length larger than anything: the whole output at once.
    let mut d = Decompressor::new(15, None).unwrap();
    assert_eq!(d.decompress(&z, usize::MAX).unwrap(), data);
}

#[test]
fn flush_with_unconsumed_tail() {
    let data = fox(1000);
    let z = compress(&data, 6, 15).unwrap();
    let mut d = Decompressor::new(15, None).unwrap();
    let head = d.decompress(&z, 100).unwrap();
    assert_eq!(head.len(), 100);
    assert!(!d.unconsumed_tail().is_empty());
    let rest = d.flush(1).unwrap();
    assert_eq!([head, rest].concat(), data);
    assert!(d.eof());
    assert!(d.unconsumed_tail().is_empty());
    assert_eq!(msg(d.flush(0)), LENGTH_NOT_POSITIVE);
    // After flush() ended the stream: flush gives nothing, decompress fails, copy fails.
    assert!(d.flush(DEF_BUF_SIZE).unwrap().is_empty());
    assert_eq!(msg(d.decompress(b"x", 0)), "Error -2 while decompressing data: inconsistent stream state");
    assert_eq!(msg(d.copy()), INCONSISTENT_STATE);
}

#[test]
fn unused_data_after_end_of_stream() {
    let z = compress(&fox(10), 6, 15).unwrap();
    let mut input = z.clone();
    input.extend_from_slice(b"TAIL");
    let mut d = Decompressor::new(15, None).unwrap();
    assert_eq!(d.decompress(&input, 0).unwrap(), fox(10));
    assert!(d.eof());
    assert_eq!(d.unused_data(), b"TAIL");
    assert!(d.unconsumed_tail().is_empty());
    // More input after the end accumulates in unused_data.
    assert!(d.decompress(b"MORE", 0).unwrap().is_empty());
    assert_eq!(d.unused_data(), b"TAILMORE");

    // Byte by byte: unused_data grows one byte at a time.
    let mut d = Decompressor::new(15, None).unwrap();
    let mut out = Vec::new();
    for b in input.iter() {
        out.extend(d.decompress(core::slice::from_ref(b), 0).unwrap());
    }
    assert_eq!(out, fox(10));
    assert_eq!(d.unused_data(), b"TAIL");
}

/// CPython's quirk, kept: a call that starts with a non-empty unconsumed_tail and reaches
/// the end keeps the leftover in unconsumed_tail as well as unused_data.
#[test]
fn unused_data_with_tail_matches_cpython_quirk() {
    let mut input = compress(&vec![b'a'; 100_000], 6, 15).unwrap();
    input.extend_from_slice(b"TAIL");
    let mut d = Decompressor::new(15, None).unwrap();
    assert_eq!(d.decompress(&input, 10).unwrap().len(), 10);
    assert_eq!(d.unconsumed_tail().len(), 106);
    assert!(d.unused_data().is_empty());
    let tail = d.unconsumed_tail().to_vec();
    assert_eq!(d.decompress(&tail, 0).unwrap().len(), 99_990);
    assert_eq!((d.unconsumed_tail(), d.unused_data(), d.eof()), (&b"TAIL"[..], &b"TAIL"[..], true));
    let tail = d.unconsumed_tail().to_vec();
    assert!(d.decompress(&tail, 0).unwrap().is_empty());
    assert_eq!((d.unconsumed_tail(), d.unused_data()), (&b"TAIL"[..], &b"TAILTAIL"[..]));
}

#[test]
fn zdict() {
    let dict = b"hello world dictionary";
    let text = b"hello world hello dictionary";
    let mut c = Compressor::new(6, DEFLATED, 15, 8, 0, Some(dict)).unwrap();
    let z = [c.compress(text).unwrap(), c.flush(Z_FINISH).unwrap()].concat();

    assert_eq!(msg(decompress(&z, 15, DEF_BUF_SIZE)), "Error 2 while decompressing data");
    assert_eq!(msg(Decompressor::new(15, None).unwrap().decompress(&z, 0)), "Error 2 while decompressing data");
    assert_eq!(
        msg(Decompressor::new(15, Some(b"wrong")).unwrap().decompress(&z, 0)),
        "Error -3 while setting zdict: invalid input data"
    );
    let mut d = Decompressor::new(15, Some(dict)).unwrap();
    assert_eq!(d.decompress(&z, 0).unwrap(), text);
    // With max_length, the dictionary is set in the middle of the loop.
    let mut d = Decompressor::new(15, Some(dict)).unwrap();
    let mut out = d.decompress(&z, 3).unwrap();
    while !d.unconsumed_tail().is_empty() {
        let tail = d.unconsumed_tail().to_vec();
        out.extend(d.decompress(&tail, 3).unwrap());
    }
    out.extend(d.flush(DEF_BUF_SIZE).unwrap());
    assert_eq!(out, text);

    // Raw streams take the dictionary up front.
    let mut c = Compressor::new(6, DEFLATED, -15, 8, 0, Some(dict)).unwrap();
    let raw = [c.compress(text).unwrap(), c.flush(Z_FINISH).unwrap()].concat();
    let mut d = Decompressor::new(-15, Some(dict)).unwrap();
    assert_eq!(d.decompress(&raw, 0).unwrap(), text);
    let mut d = Decompressor::new(-15, Some(b"")).unwrap();
    assert_ne!(d.decompress(&raw, 0).ok().as_deref(), Some(&text[..]));

    // gzip streams have no dictionary.
    assert_eq!(msg(Compressor::new(6, DEFLATED, 31, 8, 0, Some(b"abc"))), INVALID_DICT);
    // An empty dictionary is fine for zlib streams.
    let mut c = Compressor::new(6, DEFLATED, 15, 8, 0, Some(b"")).unwrap();
    let z = [c.compress(text).unwrap(), c.flush(Z_FINISH).unwrap()].concat();
    assert_eq!(Decompressor::new(15, Some(b"")).unwrap().decompress(&z, 0).unwrap(), text);
}

#[test]
fn copies_are_independent() {
    let data = fox(100);
    let mut c = compressobj(6, 15);
    let head = c.compress(&data[..2000]).unwrap();
    let mut c2 = c.copy().unwrap();
    let a = [head.clone(), c.compress(&data[2000..]).unwrap(), c.flush(Z_FINISH).unwrap()].concat();
    let b = [head, c2.compress(b"other ending").unwrap(), c2.flush(Z_FINISH).unwrap()].concat();
    assert_eq!(decompress(&a, 15, DEF_BUF_SIZE).unwrap(), data);
    assert_eq!(decompress(&b, 15, DEF_BUF_SIZE).unwrap(), [&data[..2000], b"other ending"].concat());
    drop(c);
    drop(c2);

    let z = compress(&data, 6, 15).unwrap();
    let mut d = Decompressor::new(15, None).unwrap();
    let first = d.decompress(&z[..z.len() / 2], 0).unwrap();
    let mut d2 = d.copy().unwrap();
    let rest = d.decompress(&z[z.len() / 2..], 0).unwrap();
    assert_eq!([first.clone(), rest.clone()].concat(), data);
    drop(d);
    assert_eq!(d2.decompress(&z[z.len() / 2..], 0).unwrap(), rest);
    assert!(d2.eof());
    // Copies carry unused_data, unconsumed_tail and eof.
    let d3 = d2.copy().unwrap();
    assert!(d3.eof());
    // Fresh objects can be copied too.
    let _ = Decompressor::new(15, None).unwrap().copy().unwrap();
    let _ = compressobj(6, 15).copy().unwrap();
}

#[test]
fn errors_match_cpython() {
    assert_eq!(msg(decompress(b"xx", 15, DEF_BUF_SIZE)), "Error -3 while decompressing data: incorrect header check");
    assert_eq!(
        msg(decompress(b"", -1, DEF_BUF_SIZE)),
        "Error -2 while preparing to decompress data: inconsistent stream state"
    );
    assert_eq!(
        msg(decompress(b"x\x9c", 15, DEF_BUF_SIZE)),
        "Error -5 while decompressing data: incomplete or truncated stream"
    );
    let z = compress(FOX, 6, 15).unwrap();
    assert_eq!(
        msg(decompress(&z[..z.len() - 1], 15, DEF_BUF_SIZE)),
        "Error -5 while decompressing data: incomplete or truncated stream"
    );
    assert_eq!(msg(compress(b"x", 10, 15)), BAD_LEVEL);
    assert_eq!(msg(compress(b"x", 1, 7)), BAD_LEVEL);
    assert_eq!(
        msg(decompress(&compress(&fox(20), 1, 15).unwrap(), 14, DEF_BUF_SIZE)),
        "Error -3 while decompressing data: invalid window size"
    );
    assert_eq!(
        msg(Decompressor::new(15, None).unwrap().decompress(b"\x78\x9c\xff\xff", 0)),
        "Error -3 while decompressing data: invalid block type"
    );
    assert_eq!(
        msg(Decompressor::new(15, None).unwrap().decompress(&compress(b"abc", 6, -15).unwrap(), 0)),
        "Error -3 while decompressing data: incorrect header check"
    );
    assert_eq!(
        msg(decompress(b"\x1f\x8b\x09\x00\x00\x00\x00\x00\x00\x03", 31, DEF_BUF_SIZE)),
        "Error -3 while decompressing data: unknown compression method"
    );
    let mut bad = z.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert_eq!(msg(decompress(&bad, 15, DEF_BUF_SIZE)), "Error -3 while decompressing data: incorrect data check");
    assert_eq!(
        msg(decompress(b"\x78\x9c\x03\x00\x00\x00\x00\x02", 15, DEF_BUF_SIZE)),
        "Error -3 while decompressing data: incorrect data check"
    );
    // A truncated stream is not an error for Decompress objects, nor for their flush().
    let mut d = Decompressor::new(15, None).unwrap();
    assert_eq!(d.decompress(&z[..5], 0).unwrap(), b"Th"); // as much as stock zlib gives
    assert_eq!(d.flush(DEF_BUF_SIZE).unwrap(), b"");
    assert!(!d.eof());
    assert!(Decompressor::new(31, None).unwrap().flush(DEF_BUF_SIZE).unwrap().is_empty());
    let e = decompress(b"xx", 15, DEF_BUF_SIZE).unwrap_err();
    assert_eq!(e.code, -3);
}

/// Mutated and truncated streams give Ok or Err, never a panic.
#[test]
fn corrupt_input_never_panics() {
    let data = mixed(20_000);
    let mut x: u32 = 7;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for wbits in [15, -15, 31, 47] {
        let z = compress(&data, 6, if wbits == 47 { 15 } else { wbits }).unwrap();
        for _ in 0..300 {
            let mut bad = z.clone();
            for _ in 0..1 + rnd() % 4 {
                let i = rnd() as usize % bad.len();
                bad[i] ^= 1 << (rnd() % 8);
            }
            bad.truncate(bad.len() - rnd() as usize % 8);
            let _ = decompress(&bad, wbits, 1);
            let mut d = Decompressor::new(wbits, None).unwrap();
            for chunk in bad.chunks(1 + rnd() as usize % 4000) {
                if d.decompress(chunk, rnd() as usize % 3000).is_err() {
                    break;
                }
            }
            let _ = d.flush(1);
            let _ = d.copy();
        }
    }
    // Random bytes with every wbits accepted by inflateInit2.
    for wbits in (-15..=-8).chain(8..=15).chain(24..=31).chain(40..=47) {
        let junk: Vec<u8> = (0..2000).map(|_| rnd() as u8).collect();
        let _ = decompress(&junk, wbits, DEF_BUF_SIZE);
    }
}

#[test]
fn output_grows_past_the_first_blocks() {
    let data = vec![b'x'; 5 * 1024 * 1024 + 123];
    let z = compress(&data, 9, 15).unwrap();
    assert!(z.len() < 10_000);
    assert_eq!(decompress(&z, 15, 1).unwrap(), data);
    assert_eq!(decompress(&z, 15, 10 * 1024 * 1024).unwrap(), data);
    let mut d = Decompressor::new(15, None).unwrap();
    assert_eq!(d.decompress(&z, 0).unwrap(), data);
    // Incompressible data makes the compressor's output grow too.
    let noise: Vec<u8> = {
        let mut x: u64 = 99;
        (0..1_000_000)
            .map(|_| {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                (x >> 56) as u8
            })
            .collect()
    };
    assert_eq!(decompress(&compress(&noise, 6, 31).unwrap(), 31, 0).unwrap(), noise);
    assert_eq!(decompress(&stream_compress(&noise, 0, -15), -15, 0).unwrap(), noise);
}

#[test]
fn error_message_lists_cover_the_non_zlib_errors() {
    for m in [INVALID_INIT, INVALID_DICT, DEFLATE_SET_DICT, INCONSISTENT_STATE, LENGTH_NOT_POSITIVE] {
        assert!(VALUE_ERRORS.contains(&m));
    }
    assert!(!VALUE_ERRORS.contains(&BAD_LEVEL));
    assert_eq!(MEMORY_ERRORS.len(), 5);
    assert_eq!(OVERFLOW_ERRORS, &[ZDICT_TOO_LONG]);
}
