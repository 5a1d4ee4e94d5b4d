import pino from 'pino';

export type Logger = pino.Logger;

/** Structured JSON logs on stdout; every request's lines carry its request id. */
export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'call-coach-api' } });
}
