/* Name and address translation for a sandbox without a network.
 *
 * WASI preview 1 has no sockets and no resolver, and the sandbox has no /etc/hosts or
 * /etc/services. What needs none of them works as in any libc: numeric IPv4/IPv6 hosts,
 * the null host (wildcard or loopback), numeric ports, address-to-text, the protocol table
 * (built in, as musl's). Every lookup of a *name* fails with EAI_FAIL (getaddrinfo,
 * getnameinfo with NI_NAMEREQD) or NO_RECOVERY (gethostbyname, gethostbyaddr): a permanent
 * failure, not "this name does not exist", whose message says that name resolution is not
 * supported here. CPython raises those as socket.gaierror / socket.herror, both OSError.
 * Service names (`"http"`) fail with EAI_SERVICE: there is no services database. */

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOT_SUPPORTED "Name resolution is not supported on this platform (WASI has no network)"

static int h_errno_value;
int *__h_errno_location(void) { return &h_errno_value; }

const char *hstrerror(int err) {
    switch (err) {
    case HOST_NOT_FOUND: return "Unknown host";
    case TRY_AGAIN: return "Host name lookup failure";
    case NO_RECOVERY: return NOT_SUPPORTED;
    case NO_DATA: return "No address associated with name";
    default: return "Unknown error";
    }
}

const char *gai_strerror(int err) {
    switch (err) {
    case EAI_BADFLAGS: return "Invalid flags";
    case EAI_NONAME: return "Name does not resolve";
    case EAI_AGAIN: return "Try again";
    case EAI_FAIL: return NOT_SUPPORTED;
    case EAI_NODATA: return "No address for the name";
    case EAI_FAMILY: return "Unrecognized address family or invalid length";
    case EAI_SOCKTYPE: return "Unrecognized socket type";
    case EAI_SERVICE: return "Unrecognized service (there is no services database)";
    case EAI_MEMORY: return "Out of memory";
    case EAI_SYSTEM: return "System error";
    case EAI_OVERFLOW: return "Overflow";
    default: return "Unknown error";
    }
}

/* A numeric host: IPv4 in inet_aton's forms ("127.1" too, as glibc and musl accept) or
 * IPv6 with an optional numeric scope ("fe80::1%2"). */
struct numeric {
    int family;
    struct in_addr v4;
    struct in6_addr v6;
    unsigned scope;
};

static int parse_numeric(const char *host, struct numeric *out) {
    memset(out, 0, sizeof *out);
    if (inet_aton(host, &out->v4)) {
        out->family = AF_INET;
        return 1;
    }
    char buf[64];
    const char *scope = strchr(host, '%');
    size_t len = scope ? (size_t)(scope - host) : strlen(host);
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, host, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET6, buf, &out->v6) != 1)
        return 0;
    if (scope) {
        char *end;
        unsigned long id = strtoul(scope + 1, &end, 10);
        if (scope[1] == '\0' || *end != '\0' || id > 0xffffffffUL)
            return 0; /* interface names would need if_nametoindex: WASI has no interfaces */
        out->scope = (unsigned)id;
    }
    out->family = AF_INET6;
    return 1;
}

/* Port of a numeric service, or -1. */
static int parse_port(const char *service) {
    if (*service == '\0')
        return -1;
    char *end;
    unsigned long port = strtoul(service, &end, 10);
    if (*end != '\0' || port > 65535 || *service == '-' || *service == '+')
        return -1;
    return (int)port;
}

struct result {
    struct addrinfo ai;
    union {
        struct sockaddr_in v4;
        struct sockaddr_in6 v6;
    } sa;
};

static struct addrinfo *make_result(const struct numeric *addr, int port, int socktype, int protocol, int flags) {
    struct result *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->ai.ai_flags = flags;
    r->ai.ai_family = addr->family;
    r->ai.ai_socktype = socktype;
    r->ai.ai_protocol = protocol;
    r->ai.ai_addr = (struct sockaddr *)&r->sa;
    if (addr->family == AF_INET) {
        r->sa.v4.sin_family = AF_INET;
        r->sa.v4.sin_port = htons((unsigned short)port);
        r->sa.v4.sin_addr = addr->v4;
        r->ai.ai_addrlen = sizeof r->sa.v4;
    } else {
        r->sa.v6.sin6_family = AF_INET6;
        r->sa.v6.sin6_port = htons((unsigned short)port);
        r->sa.v6.sin6_addr = addr->v6;
        r->sa.v6.sin6_scope_id = addr->scope;
        r->ai.ai_addrlen = sizeof r->sa.v6;
    }
    return &r->ai;
}

void freeaddrinfo(struct addrinfo *ai) {
    while (ai != NULL) {
        struct addrinfo *next = ai->ai_next;
        free(ai->ai_canonname);
        free(ai); /* the struct result that holds it */
        ai = next;
    }
}

#define KNOWN_AI_FLAGS (AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | AI_V4MAPPED | AI_ALL | AI_ADDRCONFIG | AI_NUMERICSERV)

int getaddrinfo(const char *restrict host, const char *restrict service, const struct addrinfo *restrict hints,
                struct addrinfo **restrict res) {
    int flags = hints ? hints->ai_flags : 0;
    int family = hints ? hints->ai_family : AF_UNSPEC;
    int socktype = hints ? hints->ai_socktype : 0;
    int protocol = hints ? hints->ai_protocol : 0;
    *res = NULL;
    if (flags & ~KNOWN_AI_FLAGS)
        return EAI_BADFLAGS;
    if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
        return EAI_FAMILY;
    if (host == NULL && service == NULL)
        return EAI_NONAME;

    /* The (socktype, protocol) pairs to return, as musl does: stream/TCP and datagram/UDP. */
    struct kind { int socktype, protocol; } kinds[2];
    int nkinds = 0;
    if ((socktype == 0 || socktype == SOCK_STREAM) && (protocol == 0 || protocol == IPPROTO_TCP))
        kinds[nkinds++] = (struct kind){SOCK_STREAM, IPPROTO_TCP};
    if ((socktype == 0 || socktype == SOCK_DGRAM) && (protocol == 0 || protocol == IPPROTO_UDP))
        kinds[nkinds++] = (struct kind){SOCK_DGRAM, IPPROTO_UDP};
    if (nkinds == 0)
        return socktype == 0 || socktype == SOCK_STREAM || socktype == SOCK_DGRAM ? EAI_SERVICE : EAI_SOCKTYPE;

    int port = 0;
    if (service != NULL) {
        port = parse_port(service);
        if (port < 0)
            return flags & AI_NUMERICSERV ? EAI_NONAME : EAI_SERVICE;
    }

    struct numeric addrs[2];
    int naddrs = 0;
    if (host == NULL) {
        /* The wildcard for a server (AI_PASSIVE), else loopback: no lookup involved. */
        int passive = flags & AI_PASSIVE;
        if (family != AF_INET6) {
            memset(&addrs[naddrs], 0, sizeof addrs[0]);
            addrs[naddrs].family = AF_INET;
            addrs[naddrs].v4.s_addr = htonl(passive ? INADDR_ANY : INADDR_LOOPBACK);
            naddrs++;
        }
        if (family != AF_INET) {
            static const struct in6_addr any = IN6ADDR_ANY_INIT, loopback = IN6ADDR_LOOPBACK_INIT;
            memset(&addrs[naddrs], 0, sizeof addrs[0]);
            addrs[naddrs].family = AF_INET6;
            addrs[naddrs].v6 = passive ? any : loopback;
            naddrs++;
        }
    } else if (parse_numeric(host, &addrs[0])) {
        naddrs = 1;
        if (family == AF_INET6 && addrs[0].family == AF_INET) {
            if (!(flags & AI_V4MAPPED))
                return EAI_NONAME;
            struct in_addr v4 = addrs[0].v4;
            addrs[0].family = AF_INET6;
            memset(&addrs[0].v6, 0, sizeof addrs[0].v6);
            addrs[0].v6.s6_addr[10] = addrs[0].v6.s6_addr[11] = 0xff;
            memcpy(&addrs[0].v6.s6_addr[12], &v4, 4);
        } else if (family != AF_UNSPEC && family != addrs[0].family) {
            return EAI_NONAME;
        }
    } else {
        /* A name: resolving it needs DNS or a hosts file, and the sandbox has neither. */
        return flags & AI_NUMERICHOST ? EAI_NONAME : EAI_FAIL;
    }

    struct addrinfo *head = NULL, **tail = &head;
    for (int a = 0; a < naddrs; a++) {
        for (int k = 0; k < nkinds; k++) {
            struct addrinfo *ai = make_result(&addrs[a], port, kinds[k].socktype, kinds[k].protocol, flags);
            if (ai == NULL) {
                freeaddrinfo(head);
                return EAI_MEMORY;
            }
            *tail = ai;
            tail = &ai->ai_next;
        }
    }
    if ((flags & AI_CANONNAME) && host != NULL) {
        /* The canonical name of a numeric host is its text, as glibc gives it. */
        head->ai_canonname = strdup(host);
        if (head->ai_canonname == NULL) {
            freeaddrinfo(head);
            return EAI_MEMORY;
        }
    }
    *res = head;
    return 0;
}

#define KNOWN_NI_FLAGS (NI_NUMERICHOST | NI_NUMERICSERV | NI_NOFQDN | NI_NAMEREQD | NI_DGRAM | NI_NUMERICSCOPE)

int getnameinfo(const struct sockaddr *restrict sa, socklen_t salen, char *restrict host, socklen_t hostlen,
                char *restrict serv, socklen_t servlen, int flags) {
    if (flags & ~KNOWN_NI_FLAGS)
        return EAI_BADFLAGS;
    if (sa == NULL)
        return EAI_FAMILY;
    char text[INET6_ADDRSTRLEN + 16];
    unsigned port;
    if (sa->sa_family == AF_INET && salen >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        port = ntohs(in->sin_port);
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    } else if (sa->sa_family == AF_INET6 && salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        port = ntohs(in6->sin6_port);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        if (in6->sin6_scope_id != 0) {
            size_t len = strlen(text);
            snprintf(text + len, sizeof text - len, "%%%u", in6->sin6_scope_id);
        }
    } else {
        return EAI_FAMILY;
    }
    if (host != NULL && hostlen > 0) {
        /* Without a resolver the numeric form is the answer, as for an address with no
         * name; a caller that requires a name cannot have one here. */
        if (flags & NI_NAMEREQD)
            return EAI_FAIL;
        if (strlen(text) >= hostlen)
            return EAI_OVERFLOW;
        strcpy(host, text);
    }
    if (serv != NULL && servlen > 0) {
        /* No services database: the port's number, as for a port without a name. */
        if (snprintf(serv, servlen, "%u", port) >= (int)servlen)
            return EAI_OVERFLOW;
    }
    return 0;
}

static struct hostent host_result;
static struct in_addr host_addr;
static char *host_addrs[2];
static char *host_aliases[1];
static char host_name[INET_ADDRSTRLEN];

struct hostent *gethostbyname(const char *name) {
    struct in_addr v4;
    if (name == NULL || !inet_aton(name, &v4)) {
        h_errno = NO_RECOVERY;
        return NULL;
    }
    host_addr = v4;
    inet_ntop(AF_INET, &v4, host_name, sizeof host_name);
    host_addrs[0] = (char *)&host_addr;
    host_addrs[1] = NULL;
    host_aliases[0] = NULL;
    host_result = (struct hostent){host_name, host_aliases, AF_INET, 4, host_addrs};
    return &host_result;
}

struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type) {
    /* A reverse lookup needs a resolver. */
    (void)addr, (void)len, (void)type;
    h_errno = NO_RECOVERY;
    return NULL;
}

/* No services database in the sandbox: CPython raises OSError("service/proto not found"). */
struct servent *getservbyname(const char *name, const char *proto) {
    (void)name, (void)proto;
    return NULL;
}

struct servent *getservbyport(int port, const char *proto) {
    (void)port, (void)proto;
    return NULL;
}

/* The protocol table is built in, as in musl (no /etc/protocols needed). */
static const struct { unsigned char number; char name[12]; } protocols[] = {
    {0, "ip"}, {1, "icmp"}, {2, "igmp"}, {6, "tcp"}, {17, "udp"}, {41, "ipv6"},
    {43, "ipv6-route"}, {44, "ipv6-frag"}, {47, "gre"}, {50, "esp"}, {51, "ah"},
    {58, "ipv6-icmp"}, {59, "ipv6-nonxt"}, {60, "ipv6-opts"}, {132, "sctp"},
    {136, "udplite"}, {255, "raw"},
};

static struct protoent proto_result;
static char *proto_aliases[1];
static char proto_name[12];

static struct protoent *protocol(size_t i) {
    memcpy(proto_name, protocols[i].name, sizeof proto_name);
    proto_aliases[0] = NULL;
    proto_result = (struct protoent){proto_name, proto_aliases, protocols[i].number};
    return &proto_result;
}

struct protoent *getprotobyname(const char *name) {
    for (size_t i = 0; name != NULL && i < sizeof protocols / sizeof protocols[0]; i++)
        if (strcmp(protocols[i].name, name) == 0)
            return protocol(i);
    return NULL;
}

struct protoent *getprotobynumber(int number) {
    for (size_t i = 0; i < sizeof protocols / sizeof protocols[0]; i++)
        if (protocols[i].number == number)
            return protocol(i);
    return NULL;
}
