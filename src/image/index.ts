// Images: a content-addressed store that import (docker-archive, oci-archive, OCI layout) and
// pull (an OCI registry) fill, and that the sandbox takes unpacked layers from (resolve).
import { ImageStore, type ImageStoreOptions } from './store.js';

export {
  ImageStore, defaultImageRoot, type ImageConfig, type ResolvedImage, type ImageStoreOptions, type ImageSummary, type ImageDetails,
  type ProgressEvent, type PruneResult, type PullOptions, type LayerRecord,
} from './store.js';
export { parseRef, formatRef, type ImageRef } from './ref.js';
export { unpackLayer, type UnpackOptions, type UnpackResult } from './unpack.js';

let instance: ImageStore | undefined;

/** The default store ($HAKO_IMAGE_ROOT, /var/lib/hako as root, else $XDG_DATA_HOME/hako), made on first use. */
export const images: Pick<ImageStore, 'import' | 'pull' | 'list' | 'inspect' | 'remove' | 'prune' | 'resolve'> & { readonly root: string } = {
  get root() { return store().root; },
  import: (p, o) => store().import(p, o),
  pull: (r, o) => store().pull(r, o),
  list: () => store().list(),
  inspect: (r) => store().inspect(r),
  remove: (r) => store().remove(r),
  prune: () => store().prune(),
  resolve: (r) => store().resolve(r),
};

function store(): ImageStore {
  instance ??= new ImageStore();
  return instance;
}

/** A store with options (another root, a progress callback). */
export function imageStore(o?: ImageStoreOptions): ImageStore {
  return new ImageStore(o);
}
