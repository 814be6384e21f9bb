// Browser sessions of the web UI, in this process's memory (per replica). A session holds the
// API token the user logged in with, so every request is authenticated again through
// WebServices.authenticate (a revoked token or a disabled user ends the session at once), and
// the session's CSRF token, which every form POST must carry. The cookie holds only the opaque
// id; expiry is decided here, never by the cookie.
import { randomBytes, timingSafeEqual, createHash } from "node:crypto";

export interface Session {
  id: string;
  /** The API token the user logged in with (never sent back to the browser). */
  token: string;
  /** Sent in every form as `_csrf`; compared in constant time. */
  csrf: string;
  expiresAt: number;
}

/** Where sessions live. Calls may interleave freely; none throws. */
export interface SessionStore {
  create(token: string, now?: number): Session;
  /** The live session with this id, or null (unknown or expired: an expired one is dropped). */
  get(id: string, now?: number): Session | null;
  delete(id: string): void;
}

export interface MemorySessionStoreOptions {
  /** How long a session lives after login (default 8 hours). */
  ttlMs?: number;
  /** At most this many live sessions; the oldest goes first (default 10,000), so memory is bounded. */
  maxSessions?: number;
}

const newSecret = () => randomBytes(32).toString("base64url");

/** Compares two secrets through their digests: neither length nor a common prefix leaks by timing. */
export function secretsMatch(a: string, b: string): boolean {
  const d = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(d(a), d(b));
}

export class MemorySessionStore implements SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly ttlMs: number;
  private readonly maxSessions: number;

  constructor(opts: MemorySessionStoreOptions = {}) {
    this.ttlMs = opts.ttlMs ?? 8 * 3600_000;
    this.maxSessions = opts.maxSessions ?? 10_000;
  }

  create(token: string, now = Date.now()): Session {
    this.sweep(now);
    while (this.sessions.size >= this.maxSessions) {
      // Map keeps insertion order: the first key is the oldest session.
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    const session = { id: newSecret(), token, csrf: newSecret(), expiresAt: now + this.ttlMs };
    this.sessions.set(session.id, session);
    return session;
  }

  get(id: string, now = Date.now()): Session | null {
    const s = this.sessions.get(id);
    if (!s) return null;
    if (s.expiresAt <= now) {
      this.sessions.delete(id);
      return null;
    }
    return s;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  private sweep(now: number): void {
    for (const [id, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(id);
  }
}
