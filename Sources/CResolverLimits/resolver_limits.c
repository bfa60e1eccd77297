#include <netinet/in.h>
#include <resolv.h>
#include "resolver_limits.h"

int cresolver_set_limits(int seconds, int attempts, struct cresolver_limits *previous) {
    if (!(_res.options & RES_INIT) && res_init() != 0) return -1;
    previous->retrans = _res.retrans;
    previous->retry = _res.retry;
    _res.retrans = seconds;
    _res.retry = attempts;
    return 0;
}

void cresolver_restore_limits(const struct cresolver_limits *previous) {
    _res.retrans = previous->retrans;
    _res.retry = previous->retry;
}
