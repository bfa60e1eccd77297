#ifndef CNETFILTERQUEUE_SHIM_H
#define CNETFILTERQUEUE_SHIM_H
#include <stdint.h>
#include <sys/types.h>
/* <netinet/in.h> MUST precede any <linux/*.h>: otherwise the kernel's in_addr clashes with glibc's. */
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#endif
