// hako image import|pull|ls|inspect|rm|prune: the image store the sandbox runs images from.
import { HakoError } from '../errors.js';
import { ImageStore, type ProgressEvent } from '../image/index.js';
import { accessSync, constants } from 'node:fs';
import { has, last, parseArgs } from './args.js';
import { caFileNodeSkipped } from './common.js';
import { command, specsOf } from './commands.js';
import { commandHelp } from './help.js';

/** NODE_EXTRA_CA_CERTS, which this Node was started without (bin/hako): read here only, for TLS to
 * a registry. One that cannot be read is ignored with a warning, as Node itself does. */
function extraCaFile(): string | undefined {
  const file = caFileNodeSkipped();
  if (file === undefined) return undefined;
  try {
    accessSync(file, constants.R_OK);
    return file;
  } catch (e) {
    process.stderr.write(`hako: warning: ignoring extra certs from ${file} (NODE_EXTRA_CA_CERTS): ${(e as NodeJS.ErrnoException).code ?? 'unreadable'}\n`);
    return undefined;
  }
}

const SUBS = ['import', 'pull', 'ls', 'list', 'inspect', 'rm', 'remove', 'prune'];

function size(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

/** A one-line progress bar on stderr, redrawn at most every 100 ms, when stderr is a terminal. */
function progressBar(enabled: boolean): { on: (e: ProgressEvent) => void; end: () => void } {
  if (!enabled) return { on: () => undefined, end: () => undefined };
  let last = 0;
  let shown = false;
  return {
    on: (e) => {
      const now = Date.now();
      if (e.phase !== 'done' && now - last < 100) return;
      last = now;
      const width = 30;
      const frac = e.total ? Math.min(1, e.bytes / e.total) : undefined;
      const bar = frac === undefined ? '' : `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '.')}] `;
      const what = e.phase === 'read' ? 'reading archive' : e.phase === 'blob' ? `copying blob${e.layer ? ` ${e.layer}/${e.layers}` : ''}`
        : e.phase === 'unpack' ? `unpacking layer ${e.layer}/${e.layers}` : `stored ${e.image ?? ''}`;
      const cols = process.stderr.columns || 80;
      process.stderr.write(`\r\x1b[K${`${what} ${bar}${size(e.bytes)}${e.total ? ` / ${size(e.total)}` : ''}`.slice(0, cols - 1)}`);
      shown = true;
    },
    end: () => {
      if (shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2))).join('')).join('\n');
}

export async function imageCommand(argv: string[]): Promise<number> {
  const args = parseArgs('image', argv, specsOf('image'), false);
  if (has(args, 'help')) {
    process.stdout.write(`${commandHelp(command('image')!)}\n`);
    return 0;
  }
  const root = last(args, 'image-root');
  const store = new ImageStore(root !== undefined ? { root } : {});
  const [sub, ...operands] = args.rest;
  const format = last(args, 'format');
  if (format !== undefined && format !== 'table' && format !== 'json') throw new HakoError(`hako image: --format: '${format}' is not table or json`, { code: 'bad-option' });
  const quiet = has(args, 'quiet');
  const one = (what: string) => {
    if (operands.length !== 1) throw new HakoError(`hako image ${sub}: name one ${what} (see 'hako image --help')`, { code: 'bad-option' });
    return operands[0] as string;
  };
  const json = (v: unknown) => process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
  switch (sub) {
    case 'import': {
      const path = one('file or directory');
      const bar = progressBar(!quiet && process.stderr.isTTY === true);
      const tag = last(args, 'tag');
      try {
        const got = await store.import(path, { ...(tag !== undefined ? { tag } : {}), onProgress: bar.on });
        bar.end();
        if (format === 'json') json(got);
        else for (const i of got) process.stdout.write(`${i.names.length ? `${i.names.join(' ')} ` : ''}${i.id}\n`);
      } finally {
        bar.end();
      }
      return 0;
    }
    case 'pull': {
      const ref = one('image reference');
      const tls = last(args, 'tls-verify');
      if (tls !== undefined && !['', 'true', 'false'].includes(tls)) throw new HakoError(`hako image pull: --tls-verify: '${tls}' is not true or false`, { code: 'bad-option' });
      const bar = progressBar(!quiet && process.stderr.isTTY === true);
      const creds = last(args, 'creds');
      const caFile = extraCaFile();
      try {
        const got = await store.pull(ref, { tlsVerify: tls !== 'false', onProgress: bar.on, ...(creds !== undefined ? { auth: creds } : {}), ...(caFile !== undefined ? { caFile } : {}) });
        bar.end();
        if (format === 'json') json(got);
        else process.stdout.write(`${got.names.length ? `${got.names.join(' ')} ` : ''}${got.id}\n`);
      } finally {
        bar.end();
      }
      return 0;
    }
    case 'ls': case 'list': {
      if (operands.length) throw new HakoError(`hako image ${sub}: takes no operand (see 'hako image --help')`, { code: 'bad-option' });
      const list = await store.list();
      if (format === 'json') {
        json(list);
        return 0;
      }
      if (quiet) {
        for (const i of list) process.stdout.write(`${i.id.slice(7, 19)}\n`);
        return 0;
      }
      const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']];
      for (const i of list) {
        const names = i.names.length ? i.names : ['<none>:<none>'];
        for (const n of names) {
          const colon = n.lastIndexOf(':');
          rows.push([n.slice(0, colon), n.slice(colon + 1), i.id.slice(7, 19), i.created?.slice(0, 19).replace('T', ' ') ?? '-', size(i.size)]);
        }
      }
      process.stdout.write(`${table(rows)}\n`);
      return 0;
    }
    case 'inspect': {
      const d = await store.inspect(one('image'));
      if (format !== 'table') {
        json(d);
        return 0;
      }
      process.stdout.write(`names: ${d.names.join(', ') || '-'}\nid: ${d.id}\ndigest: ${d.digest}\ncreated: ${d.created ?? '-'}\n`
        + `platform: ${d.os ?? '?'}/${d.architecture ?? '?'}\nsize: ${size(d.size)}\nenv: ${d.config.env.join(' ') || '-'}\n`
        + `user: ${d.config.user ?? '-'}\nworkdir: ${d.config.workingDir ?? '-'}\nentrypoint: ${JSON.stringify(d.config.entrypoint ?? null)}\n`
        + `cmd: ${JSON.stringify(d.config.cmd ?? null)}\nlayers:\n${d.layers.map((l) => `  ${l.diffId} ${size(l.size)} ${l.dir}\n`).join('')}`);
      return 0;
    }
    case 'rm': case 'remove': {
      if (!operands.length) throw new HakoError("hako image rm: name an image (see 'hako image --help')", { code: 'bad-option' });
      for (const ref of operands) {
        await store.remove(ref);
        process.stdout.write(`${ref}\n`);
      }
      return 0;
    }
    case 'prune': {
      if (operands.length) throw new HakoError("hako image prune: takes no operand (see 'hako image --help')", { code: 'bad-option' });
      const r = await store.prune();
      if (format === 'json') json(r);
      else process.stdout.write(`removed ${r.layers} layers, ${r.blobs} blobs, ${r.tmp} leftovers\n`);
      return 0;
    }
    default:
      throw new HakoError(`hako image: ${sub === undefined ? 'name a subcommand' : `unknown subcommand '${sub}'`}: ${SUBS.filter((s) => s !== 'list' && s !== 'remove').join(', ')} (see 'hako image --help')`, { code: 'bad-option' });
  }
}
