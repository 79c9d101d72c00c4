# `socket` is CPython's own _socket on wasi-posix's network-less <netdb.h>: what needs no
# network works, what does (a socket, a name lookup) raises OSError with a clear message.
import errno
import socket

# Everyday modules that import socket import.
import asyncio, email, email.message, email.utils, http.client, logging.handlers, smtplib, unittest.mock
import urllib.request, xmlrpc.client

# WASI preview 1 has no sockets: socket() fails with ENOTSUP, as CPython's own stub says.
for what, make in [
    ("socket()", socket.socket),
    ("socket(AF_INET, SOCK_DGRAM)", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)),
    ("socketpair()", socket.socketpair),
    ("create_connection", lambda: socket.create_connection(("127.0.0.1", 80), timeout=1)),
    ("create_server", lambda: socket.create_server(("127.0.0.1", 0))),
]:
    try:
        make()
    except OSError as e:
        assert e.errno == errno.ENOTSUP, (what, e)
        print(f"{what}: OSError: {e}")
    else:
        raise AssertionError(f"{what} succeeded without a network")

# Names cannot be resolved: no network, no /etc/hosts. socket.gaierror is an OSError.
for name in ["localhost", "example.com"]:
    try:
        socket.getaddrinfo(name, 80)
    except socket.gaierror as e:
        assert e.errno == socket.EAI_FAIL and "not supported" in e.strerror, e
        print(f"getaddrinfo({name!r}, 80): gaierror: {e}")
    else:
        raise AssertionError(f"{name} resolved without a network")
try:
    socket.gethostbyaddr("127.0.0.1")
except socket.herror as e:
    assert "not supported" in str(e), e
else:
    raise AssertionError("gethostbyaddr resolved without a network")
try:
    socket.getaddrinfo("127.0.0.1", "http")
except socket.gaierror as e:
    assert e.errno == socket.EAI_SERVICE, e
else:
    raise AssertionError("a service name resolved without a services database")
try:
    socket.getservbyname("http", "tcp")
except OSError:
    pass
else:
    raise AssertionError("getservbyname found a service")

# What needs no network works as in any libc.
assert socket.gethostname() == "localhost"
assert socket.getfqdn() == "localhost"
assert socket.has_ipv6
infos = socket.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM)
assert infos == [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", 80))], infos
infos = socket.getaddrinfo("::1", 443, socket.AF_INET6, socket.SOCK_DGRAM)
assert infos == [(socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_UDP, "", ("::1", 443, 0, 0))], infos
wild = {ai[4][0] for ai in socket.getaddrinfo(None, 8080, flags=socket.AI_PASSIVE)}
assert wild == {"0.0.0.0", "::"}, wild
loop = {ai[4][0] for ai in socket.getaddrinfo(None, 8080)}
assert loop == {"127.0.0.1", "::1"}, loop
assert socket.getaddrinfo("127.1", None, socket.AF_INET, socket.SOCK_STREAM)[0][4] == ("127.0.0.1", 0)
assert socket.getaddrinfo("127.0.0.1", 1, flags=socket.AI_CANONNAME)[0][3] == "127.0.0.1"
try:
    socket.getaddrinfo("127.0.0.1", 80, socket.AF_INET6)
except socket.gaierror as e:
    assert e.errno == socket.EAI_NONAME, e
else:
    raise AssertionError("an IPv4 address resolved as IPv6")
assert socket.getnameinfo(("127.0.0.1", 80), 0) == ("127.0.0.1", "80")
assert socket.getnameinfo(("::1", 22, 0, 0), socket.NI_NUMERICHOST) == ("::1", "22")
assert socket.gethostbyname("10.1.2.3") == "10.1.2.3"
assert socket.gethostbyname_ex("10.1.2.3") == ("10.1.2.3", [], ["10.1.2.3"])
assert socket.getprotobyname("tcp") == socket.IPPROTO_TCP == 6
assert socket.getprotobyname("udp") == 17
assert socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, "fe80::1")) == "fe80::1"
assert socket.inet_aton("1.2.3.4") == b"\x01\x02\x03\x04"
assert socket.htons(1) == 256

# The clients fail at the network with OSError, not at import or with an AttributeError.
conn = http.client.HTTPConnection("example.com", timeout=1)
try:
    conn.request("GET", "/")
except OSError as e:
    print(f"http.client to example.com: {type(e).__name__}: {e}")
else:
    raise AssertionError("an HTTP request went out")
try:
    urllib.request.urlopen("http://127.0.0.1:8000/", timeout=1)
except OSError as e:  # urllib.error.URLError is an OSError
    assert isinstance(e.reason, OSError) and e.reason.errno == errno.ENOTSUP, e
else:
    raise AssertionError("urlopen went out")
try:
    smtplib.SMTP("127.0.0.1", 25, timeout=1)
except OSError as e:
    assert e.errno == errno.ENOTSUP, e
else:
    raise AssertionError("SMTP connected")
try:
    xmlrpc.client.ServerProxy("http://127.0.0.1:8000/").system.listMethods()
except OSError as e:
    assert e.errno == errno.ENOTSUP, e
else:
    raise AssertionError("XML-RPC went out")

# And what they do without a network works.
msg = email.message.EmailMessage()
msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", "hi"
msg["Message-ID"] = email.utils.make_msgid()  # uses socket.getfqdn()
msg.set_content("body")
assert email.message_from_string(msg.as_string())["Subject"] == "hi"
assert msg["Message-ID"].endswith("@localhost>"), msg["Message-ID"]
assert xmlrpc.client.loads(xmlrpc.client.dumps((1, "two")))[0] == (1, "two")
memory = logging.handlers.MemoryHandler(10)
logging.getLogger("smoke").addHandler(memory)
logging.getLogger("smoke").warning("kept")
assert memory.buffer[0].getMessage() == "kept"
mock = unittest.mock.Mock(return_value=3)
assert mock(1) == 3 and mock.call_args == unittest.mock.call(1)
with unittest.mock.patch("socket.gethostname", return_value="patched"):
    assert socket.gethostname() == "patched"
print("socket ok")
