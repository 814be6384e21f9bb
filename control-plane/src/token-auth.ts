// API tokens at the edges: every call's bearer token resolved to its user (read on every call, so
// a revoked token or a disabled user is refused at once), its "last used" recorded off the call's
// path, and the list of tokens (join and API) without a secret.
import type { Logger } from "pino";
import type { Db } from "./store/db";
import type { Clock } from "./clock";
import { authenticateApi, listTokens, touchToken, type ApiCaller, type TokenInfo } from "./store/tokens";

/** A token's "last used" is written at most this often (a write per call would cost more than the call). */
const TOKEN_USE_RECORD_MS = 60_000;

export class TokenAuth {
  /** API token id -> when this replica last recorded its use (ms). */
  private readonly used = new Map<string, number>();

  constructor(private readonly deps: { db: Db; clock: Clock; log: Logger }) {}

  /**
   * Resolve an API bearer token to its user; throws UnauthenticatedError. Read on every call
   * (one indexed join), so a revoked token or a disabled user is refused at once.
   */
  async authenticate(token: string): Promise<ApiCaller> {
    const caller = await authenticateApi(this.deps.db, token);
    this.noteUse(caller.tokenId);
    return caller;
  }

  /** Join and API tokens: ids, descriptions and times; never a secret or a hash. */
  async list(): Promise<TokenInfo[]> {
    return listTokens(this.deps.db);
  }

  /** Records a token's "last used" at most once a minute per token and replica, off the request's path. */
  private noteUse(id: string): string {
    const now = this.deps.clock.now();
    if (now.getTime() - (this.used.get(id) ?? 0) < TOKEN_USE_RECORD_MS) return id;
    if (this.used.size > 10_000) this.used.clear();
    this.used.set(id, now.getTime());
    touchToken(this.deps.db, "api", id, now, TOKEN_USE_RECORD_MS).catch((err: unknown) =>
      this.deps.log.warn({ err, tokenId: id }, "token use not recorded"),
    );
    return id;
  }
}
