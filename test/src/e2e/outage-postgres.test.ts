// Our database refusing connections (its sessions ended) for 5 s, 30 s and 120 s:
// agents keep their stages running and spooling, the server holds every lease while
// the database is down and for a lease TTL after it is back; nothing runs twice.
import { outageSuite } from "../index";

outageSuite("postgres", "Postgres outage (our database refuses connections, its sessions are ended)");
