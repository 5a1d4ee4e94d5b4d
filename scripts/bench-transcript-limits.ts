/**
 * The largest transcript the contract allows, ingested through HTTP (`npm run bench -- --only
 * limits`, issue 12 item 15): every limit openapi.yaml states must be one the service can serve
 * on this machine, so the largest allowed PUT /calls/{id}/transcript must finish well inside the
 * statement timeout. Two shapes reach the limits: the most sentences (short ones, the per-row
 * cost: numbering, foreign keys, five indexes) and the most bytes (the per-word cost: to_tsvector
 * and the GIN index). Each is PUT onto a call without a transcript and then again onto its own
 * (replace: DELETE of as many rows, then the INSERT), rounds interleaved.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { VOCABULARY } from './bench-seed.js';

const ROOT = path.resolve(import.meta.dirname, '..');

export type TranscriptLimits = { bodyBytes: number; sentences: number; textChars: number };

/** The transcript limits as openapi.yaml states them: PUT's x-body-limit, GongTranscript's x-max-sentences and text maxLength. */
export function transcriptLimits(): TranscriptLimits {
  const document = parse(readFileSync(path.join(ROOT, 'openapi.yaml'), 'utf8')) as {
    paths: { '/calls/{call_id}/transcript': { put: { 'x-body-limit': number } } };
    components: { schemas: { GongTranscript: Record<string, unknown> & { items: { properties: { sentences: { items: { properties: { text: { maxLength: number } } } } } } } } };
  };
  const transcript = document.components.schemas.GongTranscript;
  return {
    bodyBytes: document.paths['/calls/{call_id}/transcript'].put['x-body-limit'],
    sentences: transcript['x-max-sentences'] as number,
    textChars: transcript.items.properties.sentences.items.properties.text.maxLength,
  };
}

type Monologue = { speakerId: string; topic: string | null; sentences: { start: number; end: number; text: string }[] };

/** `sentences` sentences of about `textChars` characters of speech each, 20 per monologue, 3 speakers. */
function transcriptOf(speakers: readonly string[], sentences: number, textChars: number): Monologue[] {
  let n = 0;
  let seed = 7;
  const word = () => {
    seed = (seed * 48271) % 2147483647; // deterministic, so every run sends the same words
    return VOCABULARY[Math.floor(VOCABULARY.length * (seed / 2147483647) ** 3)]!;
  };
  const text = () => {
    let out = '';
    while (out.length < textChars) out += (out ? ' ' : '') + word();
    return `${out.slice(0, Math.max(1, textChars - 1))}.`;
  };
  return Array.from({ length: Math.ceil(sentences / 20) }, (_, m) => ({
    speakerId: speakers[m % speakers.length]!,
    topic: m % 4 === 0 ? 'Pricing' : null,
    sentences: Array.from({ length: Math.min(20, sentences - m * 20) }, () => {
      const start = n++ * 3000;
      return { start, end: start + 2500, text: text() };
    }),
  }));
}

/** The two bodies that reach the limits: the most sentences (short), and the most bytes those sentences can carry. */
export function largestTranscripts(limits: TranscriptLimits, speakers: readonly string[]): { name: string; body: string; sentences: number }[] {
  const mostSentences = JSON.stringify(transcriptOf(speakers, limits.sentences, 40));
  // Grow the text per sentence until the body is just inside the byte limit.
  const overhead = Buffer.byteLength(JSON.stringify(transcriptOf(speakers, limits.sentences, 1)));
  let chars = Math.min(limits.textChars, Math.floor((limits.bodyBytes - overhead) / limits.sentences));
  let mostBytes = JSON.stringify(transcriptOf(speakers, limits.sentences, chars));
  while (Buffer.byteLength(mostBytes) > limits.bodyBytes && chars > 1) {
    chars -= 1;
    mostBytes = JSON.stringify(transcriptOf(speakers, limits.sentences, chars));
  }
  return [
    { name: `${limits.sentences.toLocaleString('en')} sentences of ~40 characters`, body: mostSentences, sentences: limits.sentences },
    { name: `${limits.sentences.toLocaleString('en')} sentences of ~${chars} characters`, body: mostBytes, sentences: limits.sentences },
  ];
}

type Timing = { ms: number; status: number };

/**
 * PUTs each of the largest bodies `runs` times onto a fresh call and then onto the same call
 * again (a replacement), shapes interleaved, and returns a Markdown section: time per ingest as
 * the client sees it, against the statement timeout.
 */
export async function transcriptLimitScenario(options: {
  baseURL: string;
  token: string;
  limits: TranscriptLimits;
  statementTimeoutMs: number;
  runs: number;
  log: (line: string) => void;
}): Promise<string> {
  const { baseURL, token, limits, statementTimeoutMs, runs, log } = options;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const speakers = ['9200000000000000001', '9200000000000000002', '9200000000000000003'];
  const bodies = largestTranscripts(limits, speakers);
  const newCall = async (): Promise<string> => {
    const response = await fetch(`${baseURL}/calls`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        gong_call_id: `6${Date.now()}${Math.floor(Math.random() * 1000)}`,
        title: 'Bench largest transcript',
        scheduled_at: new Date().toISOString(),
        speakers: speakers.map((id, i) => ({ name: `Speaker ${i}`, email: `limit.${i}.${Date.now()}@example.com`, role: i ? 'prospect' : 'ae', company_side: i === 0, gong_speaker_id: id })),
      }),
    });
    if (response.status !== 201) throw new Error(`could not create a call: ${response.status} ${await response.text()}`);
    return ((await response.json()) as { id: string }).id;
  };
  const put = async (callId: string, body: string): Promise<Timing> => {
    const started = performance.now();
    const response = await fetch(`${baseURL}/calls/${callId}/transcript`, { method: 'PUT', headers, body });
    await response.arrayBuffer();
    return { ms: performance.now() - started, status: response.status };
  };

  const results = new Map<string, Timing[]>();
  const record = (key: string, timing: Timing) => results.set(key, [...(results.get(key) ?? []), timing]);
  for (let round = 0; round < runs; round++) {
    for (const shape of bodies) {
      const callId = await newCall();
      const first = await put(callId, shape.body);
      const again = await put(callId, shape.body);
      record(`${shape.name}|new`, first);
      record(`${shape.name}|replace`, again);
      log(`limits round ${round + 1}/${runs}: ${shape.name}: new ${first.ms.toFixed(0)} ms (${first.status}), replace ${again.ms.toFixed(0)} ms (${again.status})`);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const lines = bodies.flatMap((shape) =>
    (['new', 'replace'] as const).map((kind) => {
      const timings = results.get(`${shape.name}|${kind}`)!;
      const ms = timings.map((t) => t.ms);
      const statuses = [...new Set(timings.map((t) => t.status))].join(', ');
      const worst = Math.max(...ms);
      return `| ${shape.name} | ${(Buffer.byteLength(shape.body) / 2 ** 20).toFixed(2)} | ${kind === 'new' ? 'onto a call without one' : 'replacing its own'} | ${statuses} | ${median(ms).toFixed(0)} | ${worst.toFixed(0)} | ${((100 * worst) / statementTimeoutMs).toFixed(0)}% | ${ms.map((v) => v.toFixed(0)).join(', ')} |`;
    }),
  );
  return [
    `### Largest allowed transcript (PUT /calls/{id}/transcript, admin), ${runs} rounds`,
    '',
    `Limits from openapi.yaml: ${limits.sentences.toLocaleString('en')} sentences, ${limits.textChars.toLocaleString('en')} characters per sentence, body ${(limits.bodyBytes / 2 ** 20).toFixed(0)} MiB; statement timeout ${statementTimeoutMs} ms.`,
    '',
    '| body | MiB | PUT | status | median ms | max ms | max / statement timeout | runs ms |',
    '|---|--:|---|---|--:|--:|--:|---|',
    ...lines,
  ].join('\n');
}
