#ifndef CLDAP_SHIM_H
#define CLDAP_SHIM_H
#include <ldap.h>

/* LDAP_OPT_ON / LDAP_OPT_OFF are addresses of a libldap global behind macros Swift cannot import. */
static inline void *cldap_opt_on(void) { return LDAP_OPT_ON; }
static inline void *cldap_opt_off(void) { return LDAP_OPT_OFF; }

/* GSSAPI needs no answers from the caller (the identity comes from the Kerberos credentials), so the
   SASL interaction callback has nothing to fill in. A C function, because libldap calls it. */
static int cldap_sasl_no_interaction(LDAP *ld, unsigned flags, void *defaults, void *interact) {
    (void)ld; (void)flags; (void)defaults; (void)interact;
    return LDAP_SUCCESS;
}

/* A SASL GSSAPI bind (several round trips, so the interactive form: ldap_sasl_bind_s is one step). */
static inline int cldap_gssapi_bind(LDAP *ld) {
    return ldap_sasl_interactive_bind_s(ld, NULL, "GSSAPI", NULL, NULL, LDAP_SASL_QUIET,
                                        cldap_sasl_no_interaction, NULL);
}

#endif
