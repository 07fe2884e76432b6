// Which file data a later layer deletes or replaces, known before that data
// is placed: the layers above the first are read once for their entries
// alone (their data is skipped, not stored), so that a file whose every
// trace a higher layer removes costs no blocks in the image. The base layer,
// usually the largest, is read once as before.
//
// The answer only decides what need not be written; it never changes the
// tree. The builder checks at the end that no skipped file survived (a hard
// link can keep a deleted name's data alive) and builds again writing
// everything if one did, so a wrong guess costs time, never content.

const whiteoutPrefix = '.wh.';
const opaqueMarker = '.wh..wh..opq';

/** Path components as the tree sees them ("." and empty parts dropped). */
export function pathKey(path: string): string {
  return path
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/');
}

export class LaterLayers {
  /** path -> the highest layer with an entry exactly there (it replaces any lower file of that name). */
  private readonly replaced = new Map<string, number>();
  /** path -> the highest layer that removes everything below that path (whiteout, opaque marker, non-directory). */
  private readonly hidden = new Map<string, number>();

  /** Records one entry of `layer` (read from the tar, unchecked: the build checks it). */
  add(layer: number, path: string, isDir: boolean): void {
    const key = pathKey(path);
    const slash = key.lastIndexOf('/');
    const base = key.slice(slash + 1);
    const parent = slash < 0 ? '' : key.slice(0, slash);
    if (base === opaqueMarker) {
      raise(this.hidden, parent, layer);
    } else if (base.startsWith(whiteoutPrefix)) {
      const target = (parent ? `${parent}/` : '') + base.slice(whiteoutPrefix.length);
      raise(this.replaced, target, layer);
      raise(this.hidden, target, layer);
    } else {
      raise(this.replaced, key, layer);
      if (!isDir) raise(this.hidden, key, layer);
    }
  }

  /** True when a layer above `layer` deletes or replaces the regular file at `path`. */
  deletesLater(layer: number, path: string): boolean {
    if (this.replaced.size === 0) return false;
    const key = pathKey(path);
    if ((this.replaced.get(key) ?? -1) > layer) return true;
    for (let i = key.lastIndexOf('/'); i > 0; i = key.lastIndexOf('/', i - 1)) {
      if ((this.hidden.get(key.slice(0, i)) ?? -1) > layer) return true;
    }
    return (this.hidden.get('') ?? -1) > layer;
  }
}

function raise(map: Map<string, number>, key: string, layer: number): void {
  if ((map.get(key) ?? -1) < layer) map.set(key, layer);
}
