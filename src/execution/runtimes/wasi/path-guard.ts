/**
 * Confines WASI path calls to the preopened volumes. node:wasi (uvwasi) refuses paths that climb out of a
 * preopened directory by name, but it follows symlinks wherever they point: a symlink inside a volume (made by
 * the module, or unpacked from a transferred archive) would reach the host. Every `path_*` call is therefore
 * resolved here first, component by component, following symlinks as the call would (never an absolute target),
 * and refused with ENOTCAPABLE unless it stays inside the volume its directory descriptor belongs to.
 *
 * The module runs alone in its process on one thread, so nothing changes the tree between this check and the
 * call it guards.
 */
import { lstatSync, readlinkSync, statSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';

/** WASI errno values (preview1 and snapshot 0 share them). */
const ENOTCAPABLE = 76;
const LOOKUP_SYMLINK_FOLLOW = 1;
/** As Linux's MAXSYMLINKS. */
const MAX_SYMLINKS = 40;

interface Dir {
  /** The volume's host directory: nothing outside it may be reached. */
  root: string;
  /** This descriptor's host directory (symlink-free). */
  host: string;
}

type Fn = (...args: (number | bigint)[]) => number;

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}

/** Host path the guest path names from `dir`, or undefined when it would leave `dir.root`. */
export function resolveInside(dir: Dir, guestPath: string, followFinal: boolean): string | undefined {
  if (guestPath.startsWith('/') || guestPath.includes('\0')) return undefined;
  const pending = guestPath.split('/').reverse();
  let current = dir.host;
  let symlinks = 0;
  while (pending.length > 0) {
    const component = pending.pop()!;
    if (component === '' || component === '.') continue;
    if (component === '..') {
      current = dirname(current);
      if (!inside(current, dir.root)) return undefined;
      continue;
    }
    const next = join(current, component);
    const isLast = pending.every((rest) => rest === '' || rest === '.');
    let link: string | undefined;
    try {
      if (lstatSync(next).isSymbolicLink() && (!isLast || followFinal)) link = readlinkSync(next);
    } catch {
      // Does not exist (yet): the call itself decides (create, or ENOENT).
    }
    if (link !== undefined) {
      if (++symlinks > MAX_SYMLINKS || link.startsWith('/')) return undefined;
      pending.push(...link.split('/').reverse());
      continue;
    }
    current = next;
    if (!inside(current, dir.root)) return undefined;
  }
  return current;
}

/**
 * Wraps the `path_*` imports of a WASI import object. `preopens` lists the host directories in the order node:wasi
 * gives them descriptors (3, 4, …); `memory` is read when a call comes (the instance exists by then).
 */
export function guardPaths(
  imports: Record<string, Record<string, unknown>>,
  preopens: string[],
  memory: () => WebAssembly.Memory | undefined,
): void {
  const dirs = new Map<number, Dir>();
  for (const [index, host] of preopens.entries()) dirs.set(3 + index, { root: host, host });
  const text = (pointer: number, length: number): string =>
    Buffer.from(new Uint8Array(memory()!.buffer, pointer, length)).toString('utf8');
  /** The host path, or undefined (refused); descriptors this guard does not know are left to WASI. */
  const check = (fd: number, pointer: number, length: number, follow: boolean): string | null | undefined => {
    const dir = dirs.get(fd);
    if (dir === undefined) return null;
    return resolveInside(dir, text(pointer, length), follow);
  };

  for (const namespace of Object.values(imports)) {
    const original = { ...namespace } as Record<string, Fn>;
    const wrap = (name: string, guarded: (call: Fn, args: number[]) => number) => {
      const call = original[name];
      if (typeof call === 'function') {
        namespace[name] = (...args: number[]) => guarded(call, args);
      }
    };
    const single = (name: string, fdAt: number, pathAt: number, follow: (args: number[]) => boolean) =>
      wrap(name, (call, args) =>
        check(args[fdAt]!, args[pathAt]!, args[pathAt + 1]!, follow(args)) === undefined
          ? ENOTCAPABLE
          : call(...args),
      );
    const followFlag = (at: number) => (args: number[]) => (Number(args[at]) & LOOKUP_SYMLINK_FOLLOW) !== 0;
    const noFollow = () => false;

    wrap('path_open', (call, args) => {
      const [fd, dirflags, pointer, length, , , , , fdOut] = args as [
        number,
        number,
        number,
        number,
        ...number[],
      ];
      const host = check(fd, pointer, length, (dirflags & LOOKUP_SYMLINK_FOLLOW) !== 0);
      if (host === undefined) return ENOTCAPABLE;
      const errno = call(...args);
      if (errno === 0 && host !== null) {
        const opened = new DataView(memory()!.buffer).getUint32(fdOut!, true);
        let isDir = false;
        try {
          isDir = statSync(host).isDirectory();
        } catch {}
        if (isDir) dirs.set(opened, { root: dirs.get(fd)!.root, host });
        else dirs.delete(opened);
      }
      return errno;
    });
    single('path_create_directory', 0, 1, noFollow);
    single('path_filestat_get', 0, 2, followFlag(1));
    single('path_filestat_set_times', 0, 2, followFlag(1));
    single('path_readlink', 0, 1, noFollow);
    single('path_remove_directory', 0, 1, noFollow);
    single('path_unlink_file', 0, 1, noFollow);
    wrap('path_link', (call, args) => {
      const [oldFd, oldFlags, oldPointer, oldLength, newFd, newPointer, newLength] = args as number[];
      const from = check(oldFd!, oldPointer!, oldLength!, (oldFlags! & LOOKUP_SYMLINK_FOLLOW) !== 0);
      const to = check(newFd!, newPointer!, newLength!, false);
      return from === undefined || to === undefined ? ENOTCAPABLE : call(...args);
    });
    wrap('path_rename', (call, args) => {
      const [fd, oldPointer, oldLength, newFd, newPointer, newLength] = args as number[];
      const from = check(fd!, oldPointer!, oldLength!, false);
      const to = check(newFd!, newPointer!, newLength!, false);
      return from === undefined || to === undefined ? ENOTCAPABLE : call(...args);
    });
    wrap('path_symlink', (call, args) => {
      const [targetPointer, targetLength, fd, pointer, length] = args as number[];
      // A link to an absolute path could only ever point out of the volume.
      if (text(targetPointer!, targetLength!).startsWith('/')) return ENOTCAPABLE;
      return check(fd!, pointer!, length!, false) === undefined ? ENOTCAPABLE : call(...args);
    });
    wrap('fd_close', (call, args) => {
      const errno = call(...args);
      if (errno === 0) dirs.delete(args[0]!);
      return errno;
    });
    wrap('fd_renumber', (call, args) => {
      const [from, to] = args as [number, number];
      const errno = call(...args);
      if (errno === 0) {
        const dir = dirs.get(from);
        dirs.delete(from);
        if (dir !== undefined) dirs.set(to, dir);
        else dirs.delete(to);
      }
      return errno;
    });
  }
}
