// The demo's data: Fashion-MNIST fetched from the page's server when it found
// the files (data/index.json says which; `npm run demo` writes it, a static
// build ships one that says "none"), else the synthetic set made in the page.

import { DatasetError } from '../../datasets/errors.ts';
import { fashionMnistFromBytes, isGzip, type IdxFiles } from '../../datasets/idx-bytes.ts';
import { openSynthetic } from '../../datasets/synthetic.ts';
import type { Dataset } from '../../datasets/types.ts';

/** data/index.json: what the server found (tools/demo-server.ts writes it). */
export interface DataIndex {
  dataset: 'fashion-mnist' | null;
  /** IdxFiles' keys → URLs relative to the page. */
  files?: Record<keyof IdxFiles, string>;
  /** Where the server found them, or why it found none (shown in the notice). */
  source: string;
}

export interface DemoData {
  dataset: Dataset;
  /** One sentence for the page: which data and why. */
  notice: string;
}

export async function fetchDataIndex(base: URL): Promise<DataIndex> {
  const res = await fetch(new URL('data/index.json', base));
  if (!res.ok) return { dataset: null, source: `data/index.json: HTTP ${res.status}` };
  return (await res.json()) as DataIndex;
}

async function fetchBytes(url: URL, onBytes: (n: number) => void): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok || !res.body) throw new DatasetError(`${url.pathname}: HTTP ${res.status} ${res.statusText}`);
  const chunks: Uint8Array[] = [];
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    onBytes(value.byteLength);
  }
  const raw = concat(chunks);
  if (!isGzip(raw)) return raw;
  try {
    const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new DatasetError(`${url.pathname}: truncated or corrupt gzip data (${(e as Error).message})`);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

export interface DataChoice {
  /** 'synthetic' forces the synthetic set (?dataset=synthetic); null: what the server found. */
  force: 'synthetic' | 'fashion-mnist' | null;
  limitTest: number;
  seed: number;
  onProgress?: (text: string) => void;
}

export async function loadDemoData(base: URL, choice: DataChoice): Promise<DemoData> {
  const synthetic = (why: string): DemoData => ({
    dataset: openSynthetic({ name: 'synthetic', limitTest: choice.limitTest, synthetic: { seed: choice.seed } }),
    notice: `Synthetic data set (10 classes of 28×28 blobs, made in the page): ${why}.`,
  });
  if (choice.force === 'synthetic') return synthetic('chosen by ?dataset=synthetic');
  const index = await fetchDataIndex(base);
  if (index.dataset !== 'fashion-mnist' || !index.files) {
    const why = `the server found no Fashion-MNIST files (${index.source})`;
    if (choice.force === 'fashion-mnist') throw new DatasetError(`?dataset=fashion-mnist: ${why}`);
    return synthetic(why);
  }
  let received = 0;
  const files = index.files;
  const keys = Object.keys(files) as (keyof IdxFiles)[];
  const bytes = await Promise.all(
    keys.map((k) =>
      fetchBytes(new URL(files[k], base), (n) => {
        received += n;
        choice.onProgress?.(`Loading Fashion-MNIST: ${(received / 2 ** 20).toFixed(1)} MiB`);
      }),
    ),
  );
  const idx = Object.fromEntries(keys.map((k, i) => [k, bytes[i]])) as unknown as IdxFiles;
  return {
    dataset: fashionMnistFromBytes(idx, 'data', { test: choice.limitTest }),
    notice: `Fashion-MNIST from the server's local files (${index.source}); test error on the first ${choice.limitTest} test images.`,
  };
}
