#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Pack a directory into a deterministic gzip'ed newc cpio archive.

usage: mkcpio.py [--nod PATH:c|b:MAJOR:MINOR:MODE]... SRCDIR OUT.cpio.gz

Every entry is owned by 0:0 with mtime 0, entries are sorted by path,
permissions are normalised (directories 0755, files 0755 if executable by
the owner else 0644, symlinks 0777) and the gzip header carries no name
and no time, so the same input tree always gives the same bytes.  Device
nodes (--nod) are written into the archive directly, so no root rights
(mknod) are needed.
"""
import gzip
import os
import stat
import sys


def _pad(n):
    return b"\0" * ((4 - n % 4) % 4)


def _entry(name, mode, data=b"", nlink=1, rmajor=0, rminor=0, ino=0):
    name_b = name.encode() + b"\0"
    hdr = "070701" + "".join("%08X" % v for v in (
        ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rmajor, rminor,
        len(name_b), 0))
    out = hdr.encode() + name_b
    out += _pad(len(out))
    out += data + _pad(len(data))
    return out


def pack(srcdir, nodes=()):
    items = []  # (archive path, mode, data, rmajor, rminor)
    for dirpath, dirnames, filenames in os.walk(srcdir):
        dirnames.sort()
        rel = os.path.relpath(dirpath, srcdir)
        for n in sorted(dirnames + filenames):
            full = os.path.join(dirpath, n)
            arc = n if rel == "." else os.path.join(rel, n)
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                items.append((arc, stat.S_IFLNK | 0o777,
                              os.readlink(full).encode(), 0, 0))
            elif stat.S_ISDIR(st.st_mode):
                items.append((arc, stat.S_IFDIR | 0o755, b"", 0, 0))
            elif stat.S_ISREG(st.st_mode):
                perm = 0o755 if st.st_mode & stat.S_IXUSR else 0o644
                with open(full, "rb") as f:
                    items.append((arc, stat.S_IFREG | perm, f.read(), 0, 0))
            else:
                raise SystemExit("mkcpio: unsupported file type: %s" % full)
    for spec in nodes:
        path, kind, major, minor, mode = spec.split(":")
        ftype = {"c": stat.S_IFCHR, "b": stat.S_IFBLK}[kind]
        items.append((path.lstrip("/"), ftype | int(mode, 8), b"",
                      int(major), int(minor)))
    items.sort(key=lambda it: it[0])
    out = bytearray()
    for ino, (arc, mode, data, rmaj, rmin) in enumerate(items, start=1):
        nlink = 2 if stat.S_ISDIR(mode) else 1
        out += _entry(arc, mode, data, nlink, rmaj, rmin, ino)
    out += _entry("TRAILER!!!", 0)
    out += b"\0" * ((512 - len(out) % 512) % 512)
    return bytes(out)


def main(argv):
    nodes = []
    args = []
    it = iter(argv)
    for a in it:
        if a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        if a == "--nod":
            nodes.append(next(it))
        else:
            args.append(a)
    if len(args) != 2:
        print("usage: mkcpio.py [--nod SPEC]... SRCDIR OUT.cpio.gz",
              file=sys.stderr)
        return 2
    src, out = args
    data = pack(src, nodes)
    tmp = out + ".tmp"
    with open(tmp, "wb") as raw:
        # mtime=0 and no file name: byte-identical output for equal input
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                           compresslevel=6) as gz:
            gz.write(data)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
