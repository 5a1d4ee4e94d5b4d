/**
 * Micro-benchmark of response compression, per response, without HTTP: a zlib stream per body
 * (what koa-compress does) against one synchronous call (zlib.gzipSync / brotliCompressSync),
 * at several levels, for a typical `GET /calls/{id}` body (~1.5 KB) and larger transcripts.
 * Prints µs of CPU per response (process.cpuUsage, user + system) and the compressed size.
 *
 *   node --import tsx scripts/compression-bench.ts
 */
import { cpus } from 'node:os';
import { brotliCompressSync, constants, createBrotliCompress, createGzip, gzipSync, type BrotliOptions, type ZlibOptions } from 'node:zlib';
import { Transform } from 'node:stream';
import { loadSpec } from '../server/spec.js';

type Example = { value: { speakers: Record<string, unknown>[] } & Record<string, unknown> };

/** The contract's example call with three speakers: the bench seed's typical 1.5 KB call. */
function typicalCall(): string {
  const example = (loadSpec().document as { components: { examples: Record<string, Example> } }).components.examples.Call!.value;
  const speaker = example.speakers[0]!;
  const speakers = ['Sarah Chen', 'Dan Ortiz', 'Priya Raman'].map((name, i) => ({
    ...speaker,
    id: `5b0a4b8e-3f57-4c1e-9a51-2f7c1f0e9d2${i}`,
    name,
    email: `${name.split(' ')[0]!.toLowerCase()}@example.com`,
    gong_speaker_id: `643234567855553006${i}`,
  }));
  return JSON.stringify({ ...example, speakers });
}

/** A transcript response of about `bytes` bytes (segments as GET /calls/{id}/transcript sends them). */
function transcript(bytes: number): string {
  const segments = [];
  for (let i = 0; JSON.stringify(segments).length < bytes; i++) {
    segments.push({
      id: `9c1d2e3f-4a5b-4c6d-8e7f-${String(i).padStart(12, '0')}`,
      sequence_number: i,
      speaker_id: `5b0a4b8e-3f57-4c1e-9a51-2f7c1f0e9d2${i % 3}`,
      start_time_ms: i * 4200,
      text: `Sentence ${i}: our nightly jobs fail when the warehouse load runs past ${i % 7} in the morning.`,
      topics: i % 5 === 0 ? ['Pricing'] : [],
      sentiment: null,
    });
  }
  return JSON.stringify({ call_id: '0f8e5d8c-7b1a-4c36-9d2e-6a4b7e1c2f90', segments });
}

function drain(stream: Transform, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let size = 0;
    stream.on('data', (chunk: Buffer) => (size += chunk.length));
    stream.on('end', () => resolve(size));
    stream.on('error', reject);
    stream.end(body);
  });
}

type Method = { name: string; run: (body: string) => number | Promise<number> };

const brotli = (quality: number, body: string): BrotliOptions => ({
  params: { [constants.BROTLI_PARAM_QUALITY]: quality, [constants.BROTLI_PARAM_SIZE_HINT]: Buffer.byteLength(body) },
});
const gzip = (level: number): ZlibOptions => ({ level });

const methods: Method[] = [
  { name: 'identity (Buffer.from)', run: (body) => Buffer.from(body).length },
  { name: 'stream gzip level 6 (before: koa-compress)', run: (body) => drain(createGzip(), body) },
  { name: 'stream br quality 4 + size hint (before)', run: (body) => drain(createBrotliCompress(brotli(4, body)), body) },
  { name: 'stream gzip level 1 (as now, over 64 KiB)', run: (body) => drain(createGzip(gzip(1)), body) },
  { name: 'stream br quality 1 + size hint (as now)', run: (body) => drain(createBrotliCompress(brotli(1, body)), body) },
  ...[1, 2, 3, 4, 6].map((level) => ({ name: `sync gzip level ${level}`, run: (body: string) => gzipSync(body, gzip(level)).length })),
  ...[1, 2, 3, 4, 5].map((quality) => ({ name: `sync br quality ${quality} + size hint`, run: (body: string) => brotliCompressSync(body, brotli(quality, body)).length })),
];

/** µs of CPU per response over `rounds` interleaved rounds (each method once per round). */
async function measure(body: string, iterations: number, rounds = 5) {
  const results = new Map<string, { cpu: number[]; size: number }>();
  for (let round = 0; round < rounds + 1; round++) {
    for (const method of methods) {
      let size = 0;
      const start = process.cpuUsage();
      for (let i = 0; i < iterations; i++) size = await method.run(body);
      const used = process.cpuUsage(start);
      if (round === 0) continue; // warm-up
      const entry = results.get(method.name) ?? { cpu: [], size };
      entry.cpu.push((used.user + used.system) / iterations);
      results.set(method.name, entry);
    }
  }
  return results;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

console.log(`node ${process.version}, zlib ${process.versions.zlib}, brotli ${process.versions.brotli}, ${cpus().length} cores (${cpus()[0]?.model})`);
for (const [label, body, iterations] of [
  ['typical call, GET /calls/{id}', typicalCall(), 2000],
  ['transcript, 64 KiB', transcript(64 * 1024), 100],
  ['transcript, 2 MiB', transcript(2 * 1024 * 1024), 4],
] as const) {
  const bytes = Buffer.byteLength(body);
  console.log(`\n${label}: ${bytes} bytes, ${iterations} responses x 5 interleaved rounds (median, min-max)`);
  console.log('method'.padEnd(46), 'µs CPU/response'.padStart(26), 'bytes'.padStart(9), 'ratio'.padStart(6));
  for (const [name, { cpu, size }] of await measure(body, iterations)) {
    const range = `${median(cpu).toFixed(1)} (${Math.min(...cpu).toFixed(1)}-${Math.max(...cpu).toFixed(1)})`;
    console.log(name.padEnd(46), range.padStart(26), String(size).padStart(9), (size / bytes).toFixed(2).padStart(6));
  }
}
