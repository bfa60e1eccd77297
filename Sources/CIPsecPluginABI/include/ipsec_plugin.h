/* ipsecsvc plugin ABI. Placeholder until the plugins issue defines the contract. */
#ifndef IPSEC_PLUGIN_H
#define IPSEC_PLUGIN_H
#include <stdint.h>
#define IPSEC_PLUGIN_ABI_VERSION 1u
#endif
