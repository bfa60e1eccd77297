/// The script the hardening check runs as `ExecStartPost=` of ipsecsvc.service, so with the unit's
/// namespaces, capabilities and seccomp filter: it records what the sandbox allows (`ok`) or the errno it
/// gives, and the capability, no-new-privileges and seccomp lines of `/proc/self/status`, as JSON in
/// `/var/lib/ipsecsvc/hardening-probe.json`.
enum HardeningProbe {
    static let script = #"""
        import ctypes, errno, json, mmap, os, socket, sys
        out = {}
        status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
        for key in ("CapBnd", "CapEff", "CapAmb", "NoNewPrivs", "Seccomp"):
            out[key] = status.get(key, "").strip()
        def attempt(name, action):
            try:
                action()
                out[name] = "ok"
            except OSError as error:
                out[name] = errno.errorcode.get(error.errno, str(error.errno))
        def write(path):
            with open(path, "w") as f:
                f.write("x")
            os.unlink(path)
        for path in ("/usr/ipsecsvc-probe", "/etc/ipsecsvc-probe", "/var/lib/ipsecsvc/probe", "/run/ipsecsvc/probe", "/tmp/probe"):
            attempt("write:" + path, lambda p=path: write(p))
        attempt("list:/root", lambda: (_ for _ in ()).throw(OSError(errno.ENOTEMPTY, "x")) if os.listdir("/root") else None)
        attempt("list:/home", lambda: (_ for _ in ()).throw(OSError(errno.ENOTEMPTY, "x")) if os.listdir("/home") else None)
        out["tmp-marker-visible"] = os.path.exists("/tmp/ipsecsvc-container-marker")
        for name, family, kind in (("AF_PACKET", socket.AF_PACKET, socket.SOCK_RAW), ("AF_INET", socket.AF_INET, socket.SOCK_DGRAM), ("AF_NETLINK", socket.AF_NETLINK, socket.SOCK_RAW)):
            attempt("socket:" + name, lambda f=family, k=kind: socket.socket(f, k).close())
        attempt("mmap:wx", lambda: mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC).close())
        libc = ctypes.CDLL(None, use_errno=True)
        def call(function, *arguments):
            if function(*arguments) == -1:
                e = ctypes.get_errno()
                raise OSError(e, os.strerror(e))
        attempt("unshare:user", lambda: call(libc.unshare, 0x10000000))
        attempt("unshare:net", lambda: call(libc.unshare, 0x40000000))
        attempt("personality", lambda: call(libc.personality, 0x0008))
        class timespec(ctypes.Structure):
            _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]
        now = timespec()
        libc.clock_gettime(0, ctypes.byref(now))
        attempt("clock_settime", lambda: call(libc.clock_settime, 0, ctypes.byref(now)))
        attempt("write:/sys/fs/cgroup", lambda: write("/sys/fs/cgroup/probe"))
        attempt("open:/dev/kmsg", lambda: os.close(os.open("/dev/kmsg", os.O_RDONLY)))
        json.dump(out, open("/var/lib/ipsecsvc/hardening-probe.json", "w"), indent=1, sort_keys=True)
        """#
}
