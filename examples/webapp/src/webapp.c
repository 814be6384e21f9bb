/*
 * webapp: a tiny HTTP/1.0 service for the Dockyard pipeline example.
 *
 *   GET /        200 text: "webapp <version> (SQLite <version>)"
 *   GET /health  200 text: "ok"
 *   GET /items   200 JSON: {"source": "<DATABASE>", "items": [{"id", "name", "qty"}, ...]}, from
 *                the items table; 500 if the query fails
 *   GET /shop    200 HTML: a small page with a link to /shop/about (what the UI journeys drive)
 *   GET /shop/about  200 HTML
 *   other        404
 *
 * Environment: PORT (default 8080), DATABASE (default /data/items.sql): an SQL file (the seeded
 * volume) loaded into an in-memory SQLite database at start; the process exits 1 if it cannot be.
 * BROKEN_PAGE (unset by default): a path that answers 500, so an example can release a bad
 * revision by its env file alone (examples/continuous).
 * One process, one connection at a time (fork per connection would do for more); built static,
 * SQLite included (vendor/).
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "sqlite3.h"

#ifndef VERSION
#define VERSION "dev"
#endif

static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) { if (errno == EINTR) continue; return -1; }
    buf += n; len -= (size_t)n;
  }
  return 0;
}

static void reply(int fd, int status, const char *type, const char *body, size_t len) {
  const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed" : "Internal Server Error";
  char head[256];
  int n = snprintf(head, sizeof head, "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                   status, reason, type, len);
  if (write_all(fd, head, (size_t)n) == 0) write_all(fd, body, len);
}

/* The items database: SQLite in memory, loaded from the seeded SQL file at start. */
static sqlite3 *db;
static const char *db_source;
static const char *broken_page;

static int load_database(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) { fprintf(stderr, "webapp: cannot open %s: %s\n", path, strerror(errno)); return -1; }
  size_t cap = 8192, used = 0, n;
  char *sql = malloc(cap);
  while (sql && (n = fread(sql + used, 1, cap - used - 1, f)) > 0) {
    used += n;
    if (used + 1 == cap) { char *more = realloc(sql, cap *= 2); if (!more) { free(sql); sql = NULL; } else sql = more; }
  }
  fclose(f);
  if (!sql) { fprintf(stderr, "webapp: out of memory reading %s\n", path); return -1; }
  sql[used] = 0;
  char *err = NULL;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK || sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "webapp: loading %s: %s\n", path, err ? err : sqlite3_errmsg(db));
    sqlite3_free(err); free(sql); return -1;
  }
  free(sql);
  return 0;
}

/* {"source": ..., "items": [{"id":..,"name":..,"qty":..}, ...]} as a malloc'd string, or NULL. */
static char *items_json(void) {
  static const char *q =
      "SELECT json_object('source', ?1, 'items', (SELECT json_group_array(json_object('id', id, 'name', name, 'qty', qty))"
      " FROM (SELECT id, name, qty FROM items ORDER BY id)))";
  sqlite3_stmt *st = NULL;
  char *out = NULL;
  if (sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK && sqlite3_bind_text(st, 1, db_source, -1, SQLITE_STATIC) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    const char *text = (const char *)sqlite3_column_text(st, 0);
    if (text) { size_t len = strlen(text); out = malloc(len + 2); if (out) { memcpy(out, text, len); memcpy(out + len, "\n", 2); } }
  } else {
    fprintf(stderr, "webapp: /items: %s\n", sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
  return out;
}

static void handle(int fd) {
  char req[2048];
  size_t used = 0;
  req[0] = 0;
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (used < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
    ssize_t n = read(fd, req + used, sizeof req - 1 - used);
    if (n <= 0) break;
    used += (size_t)n;
    req[used] = 0;
  }
  req[used] = 0;
  char method[8], path[512];
  if (sscanf(req, "%7s %511s", method, path) != 2) return;
  char *q = strchr(path, '?');
  if (q) *q = 0;
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) { reply(fd, 405, "text/plain", "method not allowed\n", 19); return; }

  if (broken_page && *broken_page && strcmp(path, broken_page) == 0) {
    static const char *broken = "<!doctype html><title>error</title><h1>500: broken on purpose</h1>\n";
    reply(fd, 500, "text/html", broken, strlen(broken));
  } else if (strcmp(path, "/") == 0) {
    char body[128];
    int n = snprintf(body, sizeof body, "webapp %s (SQLite %s)\n", VERSION, sqlite3_libversion());
    reply(fd, 200, "text/plain", body, (size_t)n);
  } else if (strcmp(path, "/health") == 0) {
    reply(fd, 200, "text/plain", "ok\n", 3);
  } else if (strcmp(path, "/shop") == 0) {
    char body[512];
    int n = snprintf(body, sizeof body,
                     "<!doctype html><html><head><title>Dockyard shop</title></head><body>"
                     "<h1>Dockyard shop</h1><p id=\"version\">webapp %s</p>"
                     "<a id=\"about\" href=\"/shop/about\">About</a></body></html>\n",
                     VERSION);
    reply(fd, 200, "text/html", body, (size_t)n);
  } else if (strcmp(path, "/shop/about") == 0) {
    static const char *about = "<!doctype html><html><head><title>About</title></head><body>"
                               "<h1>About the shop</h1><p>Built and released by Dockyard.</p></body></html>\n";
    reply(fd, 200, "text/html", about, strlen(about));
  } else if (strcmp(path, "/items") == 0) {
    char *body = items_json();
    if (body) reply(fd, 200, "application/json", body, strlen(body));
    else {
      static const char *failed = "{\"error\":\"database query failed\"}\n";
      reply(fd, 500, "application/json", failed, strlen(failed));
    }
    free(body);
  } else {
    reply(fd, 404, "text/plain", "not found\n", 10);
  }
}

int main(void) {
  const char *port = getenv("PORT");
  int p = port && *port ? atoi(port) : 8080;
  db_source = getenv("DATABASE");
  broken_page = getenv("BROKEN_PAGE");
  if (!db_source || !*db_source) db_source = "/data/items.sql";
  if (load_database(db_source) != 0) return 1;
  signal(SIGPIPE, SIG_IGN);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)p);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(s, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s, 64) != 0) { perror("webapp: bind/listen"); return 1; }
  fprintf(stderr, "webapp %s (SQLite %s) listening on :%d, items from %s\n", VERSION, sqlite3_libversion(), p, db_source);
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) { if (errno == EINTR) continue; perror("webapp: accept"); continue; }
    handle(c);
    /* Half-close, then drain what the client still sends, so close() does not reset the reply. */
    shutdown(c, SHUT_WR);
    char sink[512];
    while (read(c, sink, sizeof sink) > 0) {}
    close(c);
  }
}
