// The image store's public types (src/image/store.ts keeps the store; registry.ts pulls).

/** The defaults an image's config gives a container. */
export interface ImageConfig {
  /** Env: KEY=VALUE entries. */
  env: string[];
  /** WorkingDir. */
  workingDir?: string;
  /** User: a name or uid, maybe with :group. */
  user?: string;
  /** Entrypoint. */
  entrypoint?: string[];
  /** Cmd. */
  cmd?: string[];
}
export interface ResolvedImage {
  /** The reference as given, normalized (or the image's digest). */
  ref: string;
  /** The manifest digest. */
  digest: string;
  /** Unpacked layer directories, lowest first, ready as overlay lowerdirs. */
  layers: string[];
  /** The config's defaults. */
  config: ImageConfig;
}

/** A progress report of import or pull. */
export interface ProgressEvent {
  /** read: reading an archive; blob: copying or downloading a blob; unpack: unpacking layer n of m; done: an image is stored. */
  phase: 'read' | 'blob' | 'unpack' | 'done';
  /** Bytes done in this phase (of this blob or layer). */
  bytes: number;
  /** Bytes in all, when known. */
  total?: number;
  /** 1-based layer number, for unpack (and a layer's blob). */
  layer?: number;
  /** How many layers the image has. */
  layers?: number;
  /** The blob this event is about. */
  digest?: string;
  /** For done: the image's name (or digest). */
  image?: string;
}

export interface ImageStoreOptions {
  /** The store's directory (default: $HAKO_IMAGE_ROOT, /var/lib/hako as root, else $XDG_DATA_HOME/hako). */
  root?: string;
  /** Called with the progress of every import and pull of this store. */
  onProgress?: (e: ProgressEvent) => void;
}

export interface ImageSummary {
  /** The image id: the config's digest (as podman's and docker's). */
  id: string;
  /** The manifest digest. */
  digest: string;
  names: string[];
  /** The config's `created`, when it has one. */
  created?: string;
  /** Bytes of its blobs (compressed layers, config, manifest). */
  size: number;
  /** When it was added to this store. */
  added: string;
}

/** A layer of a stored image. */
export interface LayerRecord {
  /** The blob's digest (compressed, as stored). */
  digest: string;
  /** The uncompressed tar's digest: names the unpacked directory. */
  diffId: string;
  /** The blob's size in bytes. */
  size: number;
  /** The blob's media type (tar, tar+gzip, tar+zstd). */
  mediaType: string;
}
/** @internal An image as images.json keeps it. */
export interface ImageRecord extends ImageSummary {
  /** The config blob's digest. */
  config: string;
  /** Its layers, lowest first. */
  layers: LayerRecord[];
}
export interface ImageDetails extends ImageSummary {
  architecture?: string;
  os?: string;
  config: ImageConfig;
  layers: (LayerRecord & { dir: string })[];
  history?: unknown[];
}
/** What prune removed. */
export interface PruneResult {
  /** Unpacked layers no image uses. */
  layers: number;
  /** Blobs no image uses. */
  blobs: number;
  /** Temporary files and directories a killed import or pull left. */
  tmp: number;
}

export interface PullOptions {
  /** Called as blobs are downloaded and layers unpacked. */
  onProgress?: (e: ProgressEvent) => void;
  /** Check the registry's TLS certificate (default true); http is used for localhost and 127.0.0.1 registries. */
  tlsVerify?: boolean;
  /** user:password for Basic auth, or for the token server (default: $HAKO_REGISTRY_AUTH). */
  auth?: string;
  /** A PEM file of CA certificates trusted besides Node's own (as NODE_EXTRA_CA_CERTS, which Node
   * reads only as it starts), read when the registry is https and its certificate is checked. */
  caFile?: string;
}
