"""A small ONC RPC / NFSv3 client written from RFC 5531 and RFC 1813, for the
tests that need raw control: chosen xids, resends, UNSTABLE writes, bad bytes."""
import socket
import struct

PMAP, NFS, MOUNT = 100000, 100003, 100005
AUTH_NONE, AUTH_SYS = 0, 1

# NFSv3 procedures
NULL, GETATTR, SETATTR, LOOKUP, ACCESS, READLINK, READ, WRITE, CREATE, MKDIR, SYMLINK, MKNOD, \
    REMOVE, RMDIR, RENAME, LINK, READDIR, READDIRPLUS, FSSTAT, FSINFO, PATHCONF, COMMIT = range(22)
UNSTABLE, DATA_SYNC, FILE_SYNC = 0, 1, 2
UNCHECKED, GUARDED, EXCLUSIVE = 0, 1, 2

OK, NOENT, ACCES, EXIST, NOTDIR, ISDIR, INVAL, ROFS, NAMETOOLONG, NOTEMPTY, STALE, BADHANDLE, \
    BAD_COOKIE, NOT_SYNC, TOOSMALL, BADTYPE = 0, 2, 13, 17, 20, 21, 22, 30, 63, 66, 70, 10001, 10003, 10002, 10005, 10007


class Packer:
    def __init__(self):
        self.b = bytearray()

    def u32(self, v):
        self.b += struct.pack(">I", v & 0xFFFFFFFF)
        return self

    def u64(self, v):
        self.b += struct.pack(">Q", v)
        return self

    def opaque(self, data):
        data = data.encode() if isinstance(data, str) else data
        self.u32(len(data))
        self.b += data + b"\0" * ((4 - len(data) % 4) % 4)
        return self

    def fixed(self, data):
        self.b += data
        return self

    def bytes(self):
        return bytes(self.b)


class Unpacker:
    def __init__(self, data):
        self.d = data
        self.p = 0

    def u32(self):
        v = struct.unpack_from(">I", self.d, self.p)[0]
        self.p += 4
        return v

    def u64(self):
        v = struct.unpack_from(">Q", self.d, self.p)[0]
        self.p += 8
        return v

    def opaque(self):
        n = self.u32()
        v = self.d[self.p:self.p + n]
        self.p += n + (4 - n % 4) % 4
        return v

    def fixed(self, n):
        v = self.d[self.p:self.p + n]
        self.p += n
        return v

    def fattr(self):
        keys = ["type", "mode", "nlink", "uid", "gid"]
        a = {k: self.u32() for k in keys}
        a["size"] = self.u64()
        a["used"] = self.u64()
        self.u64()  # rdev
        a["fsid"] = self.u64()
        a["fileid"] = self.u64()
        for t in ("atime", "mtime", "ctime"):
            a[t] = (self.u32(), self.u32())
        return a

    def post_op(self):
        return self.fattr() if self.u32() else None

    def pre_op(self):
        if not self.u32():
            return None
        return {"size": self.u64(), "mtime": (self.u32(), self.u32()), "ctime": (self.u32(), self.u32())}

    def wcc(self):
        return self.pre_op(), self.post_op()


def auth_sys(uid=0, gid=0, machine="kiseki-test"):
    body = Packer().u32(0).opaque(machine).u32(uid).u32(gid).u32(0).bytes()
    return Packer().u32(AUTH_SYS).opaque(body).bytes()


def call_message(xid, prog, vers, proc, args=b"", cred=None, rpcvers=2):
    cred = cred if cred is not None else auth_sys()
    return Packer().u32(xid).u32(0).u32(rpcvers).u32(prog).u32(vers).u32(proc).fixed(cred) \
        .u32(AUTH_NONE).u32(0).fixed(args).bytes()


def frame(msg):
    return struct.pack(">I", 0x80000000 | len(msg)) + msg


class Reply:
    """A parsed reply: accepted (stat, results) or denied (reject_stat, detail)."""

    def __init__(self, data):
        u = Unpacker(data)
        self.xid = u.u32()
        assert u.u32() == 1, "not a REPLY"
        self.reply_stat = u.u32()
        if self.reply_stat == 0:  # MSG_ACCEPTED
            u.u32()
            u.opaque()  # verifier
            self.accept_stat = u.u32()
            if self.accept_stat == 2:
                self.mismatch = (u.u32(), u.u32())
        else:
            self.reject_stat = u.u32()
            self.detail = (u.u32(), u.u32()) if self.reject_stat == 0 else u.u32()
        self.body = u


class RpcClient:
    def __init__(self, port, host="127.0.0.1", timeout=30, source_port=None):
        if source_port is None:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        else:
            # A client that reconnects from the port it used before (as NFS clients do).
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.settimeout(timeout)
            self.sock.bind((host, source_port))
            self.sock.connect((host, port))
        self.xid = 0x1000
        self.buf = b""

    def close(self):
        self.sock.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv_record(self):
        record = b""
        while True:
            hdr = self._recv_exact(4)
            n = struct.unpack(">I", hdr)[0]
            record += self._recv_exact(n & 0x7FFFFFFF)
            if n & 0x80000000:
                return record

    def _recv_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def next_xid(self):
        self.xid += 1
        return self.xid

    def call(self, prog, vers, proc, args=b"", xid=None, cred=None):
        xid = xid if xid is not None else self.next_xid()
        self.send_raw(frame(call_message(xid, prog, vers, proc, args, cred)))
        r = Reply(self.recv_record())
        assert r.xid == xid
        return r

    def nfs(self, proc, args=b"", **kw):
        r = self.call(NFS, 3, proc, args, **kw)
        assert r.reply_stat == 0 and r.accept_stat == 0, vars(r)
        return r.body.u32(), r.body

    def mount(self, path):
        r = self.call(MOUNT, 3, 1, Packer().opaque(path).bytes())
        assert r.reply_stat == 0 and r.accept_stat == 0
        st = r.body.u32()
        return st, (r.body.opaque() if st == 0 else None)

    # ---- NFSv3 helpers returning (status, ...)
    def lookup(self, dirfh, name):
        st, u = self.nfs(LOOKUP, Packer().opaque(dirfh).opaque(name).bytes())
        if st:
            return st, None
        fh = u.opaque()
        return st, fh

    def getattr(self, fh):
        st, u = self.nfs(GETATTR, Packer().opaque(fh).bytes())
        return st, (u.fattr() if st == 0 else None)

    def create(self, dirfh, name, how=UNCHECKED, verf=b"\0" * 8, mode=0o644, size=None, xid=None):
        p = Packer().opaque(dirfh).opaque(name).u32(how)
        if how == EXCLUSIVE:
            p.fixed(verf)
        else:
            p.u32(1).u32(mode).u32(0).u32(0)
            if size is None:
                p.u32(0)
            else:
                p.u32(1).u64(size)
            p.u32(0).u32(0)
        st, u = self.nfs(CREATE, p.bytes(), xid=xid)
        if st:
            return st, None
        assert u.u32() == 1
        return st, u.opaque()

    def write(self, fh, offset, data, stable=FILE_SYNC):
        st, u = self.nfs(WRITE, Packer().opaque(fh).u64(offset).u32(len(data)).u32(stable).opaque(data).bytes())
        u.wcc()
        if st:
            return st, None, None
        count, committed, verf = u.u32(), u.u32(), u.fixed(8)
        assert count == len(data)
        return st, committed, verf

    def commit(self, fh):
        st, u = self.nfs(COMMIT, Packer().opaque(fh).u64(0).u32(0).bytes())
        u.wcc()
        return st, (u.fixed(8) if st == 0 else None)

    def read(self, fh, offset, count):
        st, u = self.nfs(READ, Packer().opaque(fh).u64(offset).u32(count).bytes())
        u.post_op()
        if st:
            return st, None, None
        u.u32()
        eof = u.u32()
        data = u.opaque()
        assert u.p == len(u.d), "a READ reply is its data and padding to 4 bytes, no more, no less"
        return st, data, bool(eof)

    def remove(self, dirfh, name, xid=None):
        st, _ = self.nfs(REMOVE, Packer().opaque(dirfh).opaque(name).bytes(), xid=xid)
        return st

    def rename(self, from_dir, from_name, to_dir, to_name):
        st, _ = self.nfs(RENAME, Packer().opaque(from_dir).opaque(from_name).opaque(to_dir).opaque(to_name).bytes())
        return st

    def readdir(self, dirfh, cookie=0, verf=b"\0" * 8, count=8192):
        """(status, [(name, fileid, cookie)], eof, verifier)"""
        return self._listing(READDIR, Packer().opaque(dirfh).u64(cookie).fixed(verf).u32(count).bytes())

    def readdirplus(self, dirfh, cookie=0, verf=b"\0" * 8, dircount=8192, maxcount=8192):
        """(status, [(name, fileid, cookie, attributes or None, handle or None)], eof, verifier)"""
        args = Packer().opaque(dirfh).u64(cookie).fixed(verf).u32(dircount).u32(maxcount).bytes()
        return self._listing(READDIRPLUS, args)

    def _listing(self, proc, args):
        st, u = self.nfs(proc, args)
        u.post_op()
        if st:
            return st, None, None, None
        verf = u.fixed(8)
        entries = []
        while u.u32():
            fileid = u.u64()
            name = u.opaque().decode()
            ck = u.u64()
            if proc == READDIRPLUS:
                attrs = u.post_op()
                entries.append((name, fileid, ck, attrs, u.opaque() if u.u32() else None))
            else:
                entries.append((name, fileid, ck))
        return st, entries, bool(u.u32()), verf
