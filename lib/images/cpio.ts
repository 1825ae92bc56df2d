// A minimal writer for the "newc" cpio format the Linux kernel unpacks as an initramfs.
// Written here (not by the cpio tool) so the archive is byte-for-byte reproducible — fixed owners,
// zero mtimes, sorted entries — which makes it a sound input to a content digest, and so device
// nodes like /dev/console can be added without mknod on the host.

export type CpioEntry =
  | { type: 'file'; path: string; mode: number; data: Buffer }
  | { type: 'dir'; path: string; mode: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'char'; path: string; mode: number; major: number; minor: number };

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/** Archive the entries (paths relative to /, no leading slash needed). Missing parent dirs are added. */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const byPath = new Map<string, CpioEntry>();
  for (const e of entries) {
    const path = normalize(e.path);
    if (byPath.has(path)) throw new Error(`cpio: duplicate path '${path}'`);
    byPath.set(path, { ...e, path });
  }
  for (const path of [...byPath.keys()]) {
    for (let dir = parentOf(path); dir !== ''; dir = parentOf(dir)) {
      if (!byPath.has(dir)) byPath.set(dir, { type: 'dir', path: dir, mode: 0o755 });
    }
  }
  // Sorted paths put every directory before its contents, which the kernel's unpacker needs.
  const sorted = [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const chunks: Buffer[] = [];
  let ino = 1;
  for (const e of sorted) chunks.push(...record(e, ino++));
  chunks.push(...record({ type: 'file', path: 'TRAILER!!!', mode: 0, data: Buffer.alloc(0) }, 0));
  return Buffer.concat(chunks);
}

function record(e: CpioEntry, ino: number): Buffer[] {
  let mode: number;
  let data: Buffer = Buffer.alloc(0);
  let rdevMajor = 0;
  let rdevMinor = 0;
  switch (e.type) {
    case 'file':
      mode = S_IFREG | e.mode;
      data = e.data;
      break;
    case 'dir':
      mode = S_IFDIR | e.mode;
      break;
    case 'symlink':
      mode = S_IFLNK | 0o777;
      data = Buffer.from(e.target);
      break;
    case 'char':
      mode = S_IFCHR | e.mode;
      rdevMajor = e.major;
      rdevMinor = e.minor;
      break;
  }
  const name = Buffer.from(e.path + '\0');
  const fields = [ino, mode, 0, 0, e.type === 'dir' ? 2 : 1, 0, data.length, 0, 0, rdevMajor, rdevMinor, name.length, 0];
  const header = Buffer.from('070701' + fields.map((n) => n.toString(16).padStart(8, '0')).join(''));
  return [header, name, padding(header.length + name.length), data, padding(data.length)];
}

function padding(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function normalize(path: string): string {
  const p = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (p === '' || p.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new Error(`cpio: bad path '${path}'`);
  }
  return p;
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}
