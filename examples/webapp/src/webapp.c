/*
 * webapp: a tiny HTTP/1.0 service for the Dockyard pipeline example.
 *
 *   GET /        200 text: "webapp <version>"
 *   GET /health  200 text: "ok"
 *   GET /items   200 JSON: {"source": "<DATA_URL>", "items": <body of GET DATA_URL>}; 502 if the
 *                data service does not answer 200
 *   other        404
 *
 * Environment: PORT (default 8080), DATA_URL (default http://data:8080/items.json; http only).
 * One process, one connection at a time (fork per connection would do for more); built static.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#ifndef VERSION
#define VERSION "dev"
#endif

static const char *greeting = "webapp " VERSION;

static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) { if (errno == EINTR) continue; return -1; }
    buf += n; len -= (size_t)n;
  }
  return 0;
}

static void reply(int fd, int status, const char *type, const char *body, size_t len) {
  const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed" : "Bad Gateway";
  char head[256];
  int n = snprintf(head, sizeof head, "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                   status, reason, type, len);
  if (write_all(fd, head, (size_t)n) == 0) write_all(fd, body, len);
}

/* GET url (http://host[:port]/path); returns a malloc'd body (NUL-terminated) or NULL. */
static char *http_get(const char *url, int *status, size_t *len) {
  char host[256], port[16] = "80", path[1024] = "/";
  const char *p = url;
  if (strncmp(p, "http://", 7) != 0) return NULL;
  p += 7;
  size_t h = strcspn(p, ":/");
  if (h == 0 || h >= sizeof host) return NULL;
  memcpy(host, p, h); host[h] = 0; p += h;
  if (*p == ':') { size_t k = strcspn(++p, "/"); if (k == 0 || k >= sizeof port) return NULL; memcpy(port, p, k); port[k] = 0; p += k; }
  if (*p == '/') snprintf(path, sizeof path, "%s", p);

  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_socktype = SOCK_STREAM;
  if (getaddrinfo(host, port, &hints, &res) != 0) return NULL;
  int fd = -1;
  for (struct addrinfo *a = res; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    close(fd); fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return NULL;

  char req[1400];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n", path, host);
  if (write_all(fd, req, (size_t)n) != 0) { close(fd); return NULL; }

  size_t cap = 8192, used = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (used + 4096 + 1 > cap) { cap *= 2; char *nb = realloc(buf, cap); if (!nb) { free(buf); close(fd); return NULL; } buf = nb; }
    ssize_t r = read(fd, buf + used, cap - used - 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    used += (size_t)r;
  }
  close(fd);
  buf[used] = 0;
  char *body = strstr(buf, "\r\n\r\n");
  if (!body || sscanf(buf, "HTTP/%*s %d", status) != 1) { free(buf); return NULL; }
  body += 4;
  *len = used - (size_t)(body - buf);
  memmove(buf, body, *len + 1);
  return buf;
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

  if (strcmp(path, "/") == 0) {
    char body[128];
    int n = snprintf(body, sizeof body, "%s\n", greeting);
    reply(fd, 200, "text/plain", body, (size_t)n);
  } else if (strcmp(path, "/health") == 0) {
    reply(fd, 200, "text/plain", "ok\n", 3);
  } else if (strcmp(path, "/items") == 0) {
    const char *url = getenv("DATA_URL");
    if (!url || !*url) url = "http://data:8080/items.json";
    int status = 0;
    size_t len = 0;
    char *items = http_get(url, &status, &len);
    if (!items || status != 200) {
      char body[600];
      int n = snprintf(body, sizeof body, "{\"error\":\"data service %s answered %d\"}\n", url, items ? status : 0);
      reply(fd, 502, "application/json", body, (size_t)n);
    } else {
      while (len > 0 && (items[len - 1] == '\n' || items[len - 1] == '\r')) items[--len] = 0;
      size_t cap = len + strlen(url) + 64;
      char *body = malloc(cap);
      int n = snprintf(body, cap, "{\"source\":\"%s\",\"items\":%s}\n", url, items);
      reply(fd, 200, "application/json", body, (size_t)n);
      free(body);
    }
    free(items);
  } else {
    reply(fd, 404, "text/plain", "not found\n", 10);
  }
}

int main(void) {
  const char *port = getenv("PORT");
  int p = port && *port ? atoi(port) : 8080;
  signal(SIGPIPE, SIG_IGN);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)p);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(s, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s, 64) != 0) { perror("webapp: bind/listen"); return 1; }
  fprintf(stderr, "webapp %s listening on :%d\n", VERSION, p);
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
