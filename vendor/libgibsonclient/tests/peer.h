/*
 * A forked stand-in for a Gibson server, for tests over real sockets. It
 * answers like the real server (one request at a time, and it stops reading
 * while it writes a reply, §8.1) and misbehaves on request, chosen by the
 * key of a GET:
 *   hang     read the request, never answer (until the client hangs up)
 *   half     send 9 bytes of a 17-byte reply, then close
 *   drip     send a 10-byte reply one byte every 100 ms
 *   nothing  close without a reply
 *   garbage  answer with reply code 9
 *   twice    answer twice, in one write
 *   late     answer NOT_FOUND, then 50 ms later OK, in a write of its own
 *   bye      answer NOT_FOUND, then close the idle connection
 *   big      a 100000-byte value
 * other GETs answer NOT_FOUND; SET echoes the value, INC counts, STATS gives
 * one pair, END answers and closes, anything else answers OK.
 */
#ifndef GB_TEST_PEER_H
#define GB_TEST_PEER_H

#include <sys/types.h>

typedef struct gb_peer {
    pid_t pid;  /* process group of the peer and its connection handlers */
    int family; /* AF_INET, AF_INET6 or AF_UNIX */
    int port;
    char path[108];
} gb_peer;

/* Start a peer listening on loopback (port chosen by the kernel) or on
   unix_path. Returns 0, or -1 if it could not listen. */
int gb_peer_start(gb_peer *p, int family, const char *unix_path);
/* Kill the peer and every connection handler it forked, and reap it. */
void gb_peer_stop(gb_peer *p);
/* A loopback TCP port with nothing listening on it. */
int gb_peer_free_port(void);

#endif /* GB_TEST_PEER_H */
