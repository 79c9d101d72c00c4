//! `/dev/null` in the guest, without mounting anything of the host's `/dev`.
//!
//! Python code writes to `os.devnull` all the time (`open(os.devnull, 'w')` to silence a
//! library, `os.path.exists(os.devnull)`), and WASI has no device files of its own. Mounting
//! the host's `/dev` would hand the guest every device, and the runner's root directory
//! (`root`) cannot hold a device node (creating one needs privileges). So the runner
//! takes over the three path calls of `wasi:filesystem/types` that can name the null
//! device — `open-at`, `stat-at` and `metadata-hash-at` — when their path, resolved
//! lexically against a descriptor of the runner's own root or `/dev`, is exactly `dev/null`:
//! `open-at` then returns a file descriptor wrapping the host's `/dev/null`, opened by the
//! runner for just that call with the guest's access mode, and the stat calls describe that
//! device. Reads give EOF and writes are discarded by the host kernel, so nothing grows
//! anywhere. Every other call, and every other path, goes to wasmtime-wasi unchanged (the
//! root is read-only, so its placeholder `dev/null` file can be neither written nor
//! replaced). The definitions replace wasmtime-wasi's in the `Linker` (shadowing), so the
//! component itself is not changed.
//!
//! No other device can be reached this way: the only host path the runner opens here is the
//! literal `/dev/null`, without following a symlink, and only a character device is
//! accepted (a host whose `/dev/null` is a regular file gets `EIO`, never a file that grows).
//! A path that escapes the runner's directories with `..`, is absolute or ends in `/` is
//! not taken over, so wasmtime-wasi refuses it as before. `set-times` on the device is
//! refused (`EPERM`): when the runner runs as root the host would otherwise apply it to the
//! host's `/dev/null` itself.
//!
//! A user mount at `/dev` replaces the runner's `/dev` entirely (descriptors of it are not
//! the runner's, so nothing is taken over there); a user mount at `/` keeps the runner's
//! `/dev` mounted on top of it (see `main::prepare`).

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};

use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::filesystem::{Descriptor, File, FsPerms, OpenMode, WasiFilesystemCtxView, WasiFilesystemView};
use wasmtime_wasi::p2::FsError;
// The async bindings' types: every sandbox runs async (`wasmtime_wasi::p2::add_to_linker_async`).
use wasmtime_wasi::p2::bindings::filesystem::types::ErrorCode as FsCode;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    DescriptorFlags, DescriptorStat, ErrorCode, Host, HostDescriptor, MetadataHashValue, NewTimestamp, OpenFlags,
    PathFlags,
};

use crate::root::{DEV, DirId};

/// The interface wasmtime-wasi 50's bindings define; the adapter's import of any
/// compatible 0.2 version resolves to it. A unit test checks that this is the name
/// wasmtime-wasi uses, since shadowing a name it does not define would change nothing.
const FILESYSTEM_TYPES: &str = "wasi:filesystem/types@0.2.12";

/// The host device the guest's `/dev/null` is.
const HOST_NULL: &str = "/dev/null";

/// Which guest descriptors are the runner's: its root directory and that root's `dev/`.
#[derive(Clone, Copy, Debug)]
pub struct NullDevice {
    pub root: DirId,
    pub dev: DirId,
    /// wasmtime-wasi's `allow_blocking_current_thread`, as the `WasiCtx` is built with.
    pub allow_blocking: bool,
}

impl NullDevice {
    /// Whether `path` under `base` names the runner's `dev/null`.
    fn names_null(&self, table: &ResourceTable, base: &Resource<Descriptor>, path: &str) -> bool {
        // Cheap test first: almost no path is about the null device.
        if !path.contains("null") {
            return false;
        }
        let Ok(Descriptor::Dir(dir)) = table.get(base) else {
            return false;
        };
        let Ok(meta) = dir.dir.metadata() else {
            return false;
        };
        let id = (meta.dev(), meta.ino());
        let prefix: &[&str] = if id == self.root {
            &[]
        } else if id == self.dev {
            &[DEV]
        } else {
            return false;
        };
        resolves_to_null(prefix, path)
    }
}

/// `prefix` + `path` resolved lexically is `dev/null`. Lexical resolution is exact here: the
/// runner's directories hold no symlinks and the guest cannot write them. Paths that
/// wasmtime-wasi would refuse or treat differently are left to it: absolute ones, one with a
/// trailing `/` (ENOTDIR on a file), one whose `..` leaves the runner's root.
fn resolves_to_null(prefix: &[&str], path: &str) -> bool {
    if path.starts_with('/') || path.ends_with('/') {
        return false;
    }
    let mut parts: Vec<&str> = prefix.to_vec();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return false;
                }
            }
            name => parts.push(name),
        }
    }
    parts == [DEV, "null"]
}

/// Opens the host's null device, refusing anything but a character device.
fn open_host_null(read: bool, write: bool) -> io::Result<fs::File> {
    let file = fs::OpenOptions::new()
        .read(read)
        .write(write)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(HOST_NULL)?;
    if !file.metadata()?.file_type().is_char_device() {
        return Err(io::Error::from_raw_os_error(libc::EIO));
    }
    Ok(file)
}

/// `open-at` of the null device, with wasmtime-wasi's checks of the flags, in its order.
fn open_null(
    oflags: OpenFlags,
    flags: DescriptorFlags,
    allow_blocking: bool,
) -> Result<Descriptor, FsError> {
    let sync = DescriptorFlags::FILE_INTEGRITY_SYNC
        | DescriptorFlags::DATA_INTEGRITY_SYNC
        | DescriptorFlags::REQUESTED_WRITE_SYNC;
    if flags.intersects(sync) {
        return Err(FsCode::Unsupported.into());
    }
    if oflags.contains(OpenFlags::DIRECTORY) {
        let with_file_flags = OpenFlags::CREATE | OpenFlags::EXCLUSIVE | OpenFlags::TRUNCATE;
        return Err(if oflags.intersects(with_file_flags) {
            FsCode::Invalid
        } else {
            FsCode::NotDirectory
        }
        .into());
    }
    if oflags.contains(OpenFlags::CREATE | OpenFlags::EXCLUSIVE) {
        return Err(FsCode::Exist.into());
    }
    // As wasmtime-wasi: CREATE and TRUNCATE imply writing; no WRITE means reading.
    let write = flags.contains(DescriptorFlags::WRITE)
        || oflags.intersects(OpenFlags::CREATE | OpenFlags::TRUNCATE);
    let read = flags.contains(DescriptorFlags::READ) || !flags.contains(DescriptorFlags::WRITE);
    let mut mode = OpenMode::empty();
    mode.set(OpenMode::READ, read);
    mode.set(OpenMode::WRITE, write);
    let file = open_host_null(read, write)?;
    // Read-write perms: wasmtime-wasi checks them before every write. `set-times`, the one
    // metadata change they would also allow, is refused in `shadow`.
    Ok(Descriptor::File(File::new(
        file,
        FsPerms::ReadWrite,
        mode,
        allow_blocking,
    )))
}

/// A temporary descriptor of the host's null device (for the stat calls, so that they
/// report exactly what `stat` on an opened `/dev/null` reports); delete it after use.
fn null_descriptor(table: &mut ResourceTable, allow_blocking: bool) -> Result<Resource<Descriptor>, FsError> {
    let file = open_host_null(true, false)?;
    Ok(table.push(Descriptor::File(File::new(file, FsPerms::ReadOnly, OpenMode::READ, allow_blocking)))?)
}

async fn null_stat(view: &mut WasiFilesystemCtxView<'_>, allow_blocking: bool) -> Result<DescriptorStat, FsError> {
    let fd = null_descriptor(view.table, allow_blocking)?;
    let result = HostDescriptor::stat(view, Resource::new_borrow(fd.rep())).await;
    view.table.delete(fd)?;
    result
}

async fn null_metadata_hash(view: &mut WasiFilesystemCtxView<'_>, allow_blocking: bool) -> Result<MetadataHashValue, FsError> {
    let fd = null_descriptor(view.table, allow_blocking)?;
    let result = HostDescriptor::metadata_hash(view, Resource::new_borrow(fd.rep())).await;
    view.table.delete(fd)?;
    result
}

/// Is `fd` a file descriptor of the host's null device?
fn is_null_file(table: &ResourceTable, fd: &Resource<Descriptor>) -> bool {
    let Ok(Descriptor::File(f)) = table.get(fd) else {
        return false;
    };
    let (Ok(meta), Ok(host)) = (f.file.metadata(), fs::metadata(HOST_NULL)) else {
        return false;
    };
    meta.file_type().is_char_device() && meta.rdev() == host.rdev()
}

/// A guest-facing result: wasmtime-wasi's error turned into the WIT error code, or a trap.
fn lower<T, V: WasiFilesystemView>(
    view: &mut V,
    r: Result<T, FsError>,
) -> wasmtime::Result<(Result<T, ErrorCode>,)> {
    Ok((match r {
        Ok(v) => Ok(v),
        Err(e) => Err(Host::convert_error_code(&mut view.filesystem(), e)?),
    },))
}

/// Replaces wasmtime-wasi's `open-at`, `stat-at`, `metadata-hash-at` and `set-times` in
/// `linker` (which must already hold wasmtime-wasi's async p2 definitions).
pub fn shadow<T: WasiFilesystemView + Send + 'static>(linker: &mut Linker<T>, null: NullDevice) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut types = linker.instance(FILESYSTEM_TYPES)?;
    types.func_wrap_async(
        "[method]descriptor.open-at",
        move |mut store,
              (fd, path_flags, path, oflags, flags): (Resource<Descriptor>, PathFlags, String, OpenFlags, DescriptorFlags)| {
            Box::new(async move {
                let host = store.data_mut();
                let mut view = host.filesystem();
                let r = if null.names_null(view.table, &fd, &path) {
                    open_null(oflags, flags, null.allow_blocking).and_then(|d| Ok(view.table.push(d)?))
                } else {
                    HostDescriptor::open_at(&mut view, fd, path_flags, path, oflags, flags).await
                };
                lower(host, r)
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.stat-at",
        move |mut store, (fd, path_flags, path): (Resource<Descriptor>, PathFlags, String)| {
            Box::new(async move {
                let host = store.data_mut();
                let mut view = host.filesystem();
                let r = if null.names_null(view.table, &fd, &path) {
                    null_stat(&mut view, null.allow_blocking).await
                } else {
                    HostDescriptor::stat_at(&mut view, fd, path_flags, path).await
                };
                lower(host, r)
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.metadata-hash-at",
        move |mut store, (fd, path_flags, path): (Resource<Descriptor>, PathFlags, String)| {
            Box::new(async move {
                let host = store.data_mut();
                let mut view = host.filesystem();
                let r = if null.names_null(view.table, &fd, &path) {
                    null_metadata_hash(&mut view, null.allow_blocking).await
                } else {
                    HostDescriptor::metadata_hash_at(&mut view, fd, path_flags, path).await
                };
                lower(host, r)
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.set-times",
        move |mut store, (fd, atim, mtim): (Resource<Descriptor>, NewTimestamp, NewTimestamp)| {
            Box::new(async move {
                let host = store.data_mut();
                let mut view = host.filesystem();
                let r = if is_null_file(view.table, &fd) {
                    Err(FsCode::NotPermitted.into())
                } else {
                    HostDescriptor::set_times(&mut view, fd, atim, mtim).await
                };
                lower(host, r)
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_that_resolve_to_dev_null_are_taken_over() {
        for p in [
            "dev/null",
            "./dev/null",
            "dev//null",
            "dev/./null",
            "dev/../dev/null",
        ] {
            assert!(resolves_to_null(&[], p), "{p}");
        }
        for p in ["null", "./null", "../dev/null"] {
            assert!(resolves_to_null(&[DEV], p), "{p} under dev");
        }
        for p in [
            "dev/zero",
            "dev/null/",
            "/dev/null",
            "dev/null/..",
            "dev/nullx",
            "../dev/null",
            "x/../../dev/null",
            "dev/null/x",
            "dev",
        ] {
            assert!(!resolves_to_null(&[], p), "{p}");
        }
        assert!(!resolves_to_null(&[DEV], "../../dev/null"));
        assert!(!resolves_to_null(&[DEV], "dev/null"));
    }

    #[test]
    fn flags_are_checked_like_wasmtime_wasi() {
        let err = |o: OpenFlags, f: DescriptorFlags| match open_null(o, f, true) {
            Err(e) => e.downcast().unwrap(),
            Ok(_) => panic!("{o:?} {f:?} opened"),
        };
        use FsCode as E;
        assert!(matches!(
            err(OpenFlags::DIRECTORY, DescriptorFlags::READ),
            E::NotDirectory
        ));
        assert!(matches!(
            err(
                OpenFlags::DIRECTORY | OpenFlags::CREATE,
                DescriptorFlags::READ
            ),
            E::Invalid
        ));
        assert!(matches!(
            err(
                OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
                DescriptorFlags::WRITE
            ),
            E::Exist
        ));
        assert!(matches!(
            err(
                OpenFlags::empty(),
                DescriptorFlags::READ | DescriptorFlags::DATA_INTEGRITY_SYNC
            ),
            E::Unsupported
        ));
        let Descriptor::File(f) = open_null(
            OpenFlags::CREATE | OpenFlags::TRUNCATE,
            DescriptorFlags::WRITE,
            true,
        )
        .unwrap() else {
            panic!("not a file")
        };
        assert_eq!(f.open_mode, OpenMode::WRITE);
        assert!(f.file.metadata().unwrap().file_type().is_char_device());
        let Descriptor::File(f) =
            open_null(OpenFlags::empty(), DescriptorFlags::empty(), true).unwrap()
        else {
            panic!("not a file")
        };
        assert_eq!(f.open_mode, OpenMode::READ);
    }

    /// Shadowing a name wasmtime-wasi does not define would silently add a dead definition.
    #[test]
    fn wasmtime_wasi_defines_the_shadowed_functions() {
        struct S;
        let engine = wasmtime::Engine::default();
        let mut linker = Linker::<S>::new(&engine);
        let mut types = linker.instance(FILESYSTEM_TYPES).unwrap();
        // Not defined yet: defining works without shadowing...
        types
            .func_wrap("[method]descriptor.open-at", |_, (): ()| Ok(()))
            .unwrap();
        drop(linker);

        struct H {
            ctx: wasmtime_wasi::WasiCtx,
            table: ResourceTable,
        }
        impl wasmtime_wasi::WasiView for H {
            fn ctx(&mut self) -> wasmtime_wasi::WasiCtxView<'_> {
                wasmtime_wasi::WasiCtxView {
                    ctx: &mut self.ctx,
                    table: &mut self.table,
                }
            }
        }
        let mut linker = Linker::<H>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
        // ...and after wasmtime-wasi's definitions it conflicts: the names are theirs.
        let mut types = linker.instance(FILESYSTEM_TYPES).unwrap();
        for name in [
            "[method]descriptor.open-at",
            "[method]descriptor.stat-at",
            "[method]descriptor.metadata-hash-at",
            "[method]descriptor.set-times",
        ] {
            assert!(
                types.func_wrap(name, |_, (): ()| Ok(())).is_err(),
                "{name} is not wasmtime-wasi's"
            );
        }
        let null = NullDevice {
            root: (0, 0),
            dev: (0, 0),
            allow_blocking: true,
        };
        shadow(&mut linker, null).unwrap();
    }
}
