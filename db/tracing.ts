import { createRequire } from 'node:module';
import type { Context, Span, SpanOptions, Tracer, TracerProvider } from '@opentelemetry/api';

// The API's CommonJS instance, the one Slonik requires: its tracers were made at Slonik's load,
// from that instance's provider, which an ESM import (a second instance) would never reach.
const { INVALID_SPAN_CONTEXT, trace } = createRequire(import.meta.url)('@opentelemetry/api') as typeof import('@opentelemetry/api');

/** One span for every call: it records nothing, so nothing needs telling apart. */
const QUIET_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Slonik opens OpenTelemetry spans around every acquisition, connection and interceptor step
 * (3 or more per query). With no SDK registered, the API's own no-op tracer still builds a
 * context per span (a copy of its Map) and runs the step through `context.with`: about 2 KB per
 * GET (docs/benchmarks.md, fifth round). This one hands the step the same non-recording span.
 */
class QuietTracer implements Tracer {
  startSpan(): Span {
    return QUIET_SPAN;
  }
  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, context: Context, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(_name: string, ...rest: [F] | [SpanOptions, F] | [SpanOptions, Context, F]): ReturnType<F> {
    const fn = rest[rest.length - 1] as F;
    return fn(QUIET_SPAN) as ReturnType<F>;
  }
}

const quietProvider: TracerProvider = { getTracer: () => new QuietTracer() };

/**
 * Registers the quiet tracer as the process's tracer provider, unless one is registered already
 * (an OpenTelemetry SDK set up before the pool keeps tracing). The service itself exports no traces.
 */
export function quietTracingUnlessConfigured(): void {
  trace.setGlobalTracerProvider(quietProvider); // false, and changes nothing, when a provider is there
}
