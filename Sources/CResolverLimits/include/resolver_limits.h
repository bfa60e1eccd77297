#ifndef CRESOLVER_LIMITS_H
#define CRESOLVER_LIMITS_H

/* The calling thread's DNS resolver limits (glibc keeps `_res` per thread). Compiled separately so that
   <resolv.h> (and the <netinet/in.h> it pulls in) never enters a Swift-visible clang module, where it
   would clash with the Glibc module's copies of the socket types. */
struct cresolver_limits {
    int retrans;
    int retry;
};

/* Sets this thread's seconds per try and number of tries (for res_query, getaddrinfo and libldap's
   DNS SRV lookup); the previous values go to `previous`. Returns 0, or -1 when res_init fails. */
int cresolver_set_limits(int seconds, int attempts, struct cresolver_limits *previous);

/* Restores what cresolver_set_limits saved. */
void cresolver_restore_limits(const struct cresolver_limits *previous);
#endif
