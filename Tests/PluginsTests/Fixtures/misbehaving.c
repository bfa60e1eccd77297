/*
 * Test plugin for PluginsTests: one source, many behaviours, chosen by the option "mode".
 *
 *   good        a valid policy document (block this computer <-> option "address", default 198.18.7.1)
 *   segfault    fetch writes through a NULL pointer
 *   abort       fetch calls abort()
 *   hang        fetch never returns
 *   leak        fetch allocates and touches memory until it dies
 *   malformed   fetch returns XML that is not well-formed
 *   huge        fetch returns 100 MB
 *   invalid     fetch returns well-formed XML that fails validation
 *   error       fetch reports an error string
 *   open-error  open reports an error string
 *   crash-once  segfaults on the first fetch of a run if the file named by option "state" does not
 *               exist (creating it), otherwise behaves like good: a restarted plugin comes back
 *   chatty      like good, after printing to stdout (which must not reach the protocol)
 *   notify      like good, and signals a change from its own thread 300 ms after open; the second
 *               and later documents use the address 198.18.7.2
 *   fork        like good, after starting `sleep 300` at open that writes its pid to the file named
 *               by option "state" (a helper the plugin leaves running)
 *   storm       like good, and signals changes from its own thread every 50 us for one second, each
 *               document with another address (198.18.7.1/.2); the last one uses 198.18.7.9
 *   slow        like good, after sleeping option "delay-ms" milliseconds in every fetch (a source that
 *               reports late)
 *
 * `hang` writes its process ID to the file named by option "state" (if given) when its fetch starts hanging.
 *
 * Build variants (-D): FIXTURE_ABI=N puts N into abi_version; FIXTURE_ENTRY_V2 exports only
 * ipsec_plugin_entry_v2; FIXTURE_OPEN_MARKER="path" makes open create that file (to prove that a
 * refused plugin is never opened); FIXTURE_TOOLCHAIN="swift-x" poses as a Swift plugin of another toolchain.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ipsec_plugin.h"

#ifndef FIXTURE_ABI
#define FIXTURE_ABI IPSEC_PLUGIN_ABI_VERSION
#endif
#ifndef FIXTURE_TOOLCHAIN
#define FIXTURE_TOOLCHAIN NULL
#endif

struct fixture {
    char mode[32];
    char address[32];
    char state[1024];
    char delay[16];
    char *document;
    int fetches;
    ipsec_plugin_changed_fn changed;
    void *host_context;
    pthread_t notifier;
    int notifying;
    /* storm: how many changes were signalled, and whether the storm is over. */
    atomic_int signalled;
    atomic_int calm;
    atomic_int closing;
};

static const char good_format[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<policyStore xmlns=\"urn:ipsecsvc:policy:1\" version=\"1\" assignedPolicy=\"{6a1f0c9e-0000-4000-8000-000000000003}\">\n"
    "  <filterList id=\"{6a1f0c9e-0000-4000-8000-000000000001}\" name=\"Fixture hosts\">\n"
    "    <filter id=\"{6a1f0c9e-0000-4000-8000-000000000011}\" mirrored=\"true\" protocol=\"any\">\n"
    "      <source><me/></source>\n"
    "      <destination><host address=\"%s\"/></destination>\n"
    "    </filter>\n"
    "  </filterList>\n"
    "  <filterAction id=\"{6a1f0c9e-0000-4000-8000-000000000002}\" name=\"Fixture block\" action=\"block\" inpass=\"false\" soft=\"false\" type=\"standard\"/>\n"
    "  <policy id=\"{6a1f0c9e-0000-4000-8000-000000000003}\" name=\"Fixture policy\" pollingIntervalSeconds=\"10800\">\n"
    "    <mainMode id=\"{6a1f0c9e-0000-4000-8000-000000000004}\" masterKeyPFS=\"false\" quickModeLimit=\"0\" lifetimeSeconds=\"28800\" certificateToAccountMapping=\"false\" omitCertificateRequest=\"false\">\n"
    "      <securityMethod encryption=\"3DES\" integrity=\"SHA1\" group=\"2\" quickModeLimit=\"0\" lifetimeKilobytes=\"0\" lifetimeSeconds=\"28800\"/>\n"
    "    </mainMode>\n"
    "    <rule id=\"{6a1f0c9e-0000-4000-8000-000000000005}\" name=\"Fixture rule\" filterAction=\"{6a1f0c9e-0000-4000-8000-000000000002}\" interface=\"all\" active=\"true\" defaultResponse=\"false\">\n"
    "      <filterListRef filterList=\"{6a1f0c9e-0000-4000-8000-000000000001}\"/>\n"
    "      <kerberos/>\n"
    "    </rule>\n"
    "  </policy>\n"
    "</policyStore>\n";

static int32_t fail(char *error, size_t capacity, const char *message) {
    snprintf(error, capacity, "%s", message);
    return IPSEC_PLUGIN_ERROR;
}

static void copy_option(const char *configuration, const char *key, char *out, size_t capacity) {
    size_t key_length = strlen(key);
    for (const char *line = configuration; *line;) {
        const char *end = strchr(line, '\n');
        size_t length = end ? (size_t)(end - line) : strlen(line);
        if (length > key_length && strncmp(line, key, key_length) == 0 && line[key_length] == '=') {
            size_t value_length = length - key_length - 1;
            if (value_length >= capacity) value_length = capacity - 1;
            memcpy(out, line + key_length + 1, value_length);
            out[value_length] = 0;
        }
        line += length + (end ? 1 : 0);
    }
}

static void *notify_later(void *argument) {
    struct fixture *self = argument;
    usleep(300 * 1000);
    strcpy(self->address, "198.18.7.2");
    self->changed(self->host_context);
    return NULL;
}

/* Monotonic milliseconds. */
static long long monotonic_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void *storm(void *argument) {
    struct fixture *self = argument;
    /* One second of signals whatever the load: on a busy machine each usleep takes far longer than
       50 us, and a storm bounded by its count alone would outlast the test's wait. */
    long long end = monotonic_ms() + 1000;
    for (int i = 0; i < 20000 && monotonic_ms() < end && !atomic_load(&self->closing); i++) {
        atomic_fetch_add(&self->signalled, 1);
        self->changed(self->host_context);
        usleep(50);
    }
    atomic_store(&self->calm, 1);
    self->changed(self->host_context);
    return NULL;
}

/* Starts `sleep 300` in the plugin host's process group; the child writes its pid to `path` first. */
static void start_helper(const char *path) {
    pid_t child = fork();
    if (child != 0) return;
    char text[32];
    int length = snprintf(text, sizeof text, "%d\n", (int)getpid());
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd >= 0) {
        (void)!write(fd, text, (size_t)length);
        close(fd);
    }
    execlp("sleep", "sleep", "300", (char *)NULL);
    _exit(127);
}

static int32_t fixture_open(const char *configuration, ipsec_plugin_changed_fn changed, void *host_context,
                            void **instance, char *error, size_t error_capacity) {
#ifdef FIXTURE_OPEN_MARKER
    close(open(FIXTURE_OPEN_MARKER, O_CREAT | O_WRONLY, 0600));
#endif
    struct fixture *self = calloc(1, sizeof *self);
    strcpy(self->mode, "good");
    strcpy(self->address, "198.18.7.1");
    copy_option(configuration, "mode", self->mode, sizeof self->mode);
    copy_option(configuration, "address", self->address, sizeof self->address);
    copy_option(configuration, "state", self->state, sizeof self->state);
    copy_option(configuration, "delay-ms", self->delay, sizeof self->delay);
    self->changed = changed;
    self->host_context = host_context;
    if (strcmp(self->mode, "open-error") == 0) {
        free(self);
        return fail(error, error_capacity, "cannot reach the inventory server");
    }
    if (strcmp(self->mode, "notify") == 0) {
        self->notifying = pthread_create(&self->notifier, NULL, notify_later, self) == 0;
    }
    if (strcmp(self->mode, "storm") == 0) {
        self->notifying = pthread_create(&self->notifier, NULL, storm, self) == 0;
    }
    if (strcmp(self->mode, "fork") == 0 && self->state[0]) start_helper(self->state);
    *instance = self;
    return IPSEC_PLUGIN_OK;
}

static int32_t fixture_fetch(void *instance, const char **document, size_t *length, char *error,
                             size_t error_capacity) {
    struct fixture *self = instance;
    const char *mode = self->mode;
    self->fetches++;
    free(self->document);
    self->document = NULL;

    if (strcmp(mode, "crash-once") == 0 && self->state[0]) {
        int fd = open(self->state, O_CREAT | O_EXCL | O_WRONLY, 0600);
        if (fd >= 0) {
            close(fd);
            mode = "segfault";
        } else {
            mode = "good";
        }
    }
    if (strcmp(mode, "segfault") == 0) {
        volatile int *nothing = NULL;
        *nothing = 42;
    }
    if (strcmp(mode, "slow") == 0) usleep((useconds_t)atoi(self->delay) * 1000);
    if (strcmp(mode, "abort") == 0) abort();
    if (strcmp(mode, "hang") == 0) {
        if (self->state[0]) {
            /* The host's PID, one whole line, so that a test can see the host end. */
            char line[32];
            int length = snprintf(line, sizeof line, "%ld\n", (long)getpid());
            int fd = open(self->state, O_CREAT | O_WRONLY | O_TRUNC, 0600);
            if (fd >= 0) {
                (void)!write(fd, line, (size_t)length);
                close(fd);
            }
        }
        for (;;) pause();
    }
    if (strcmp(mode, "leak") == 0) {
        for (;;) {
            char *block = malloc(16u << 20);
            if (!block) {
                /* The address-space limit was hit: touching NULL ends the process like an OOM kill would. */
                *(volatile char *)block = 1;
            }
            memset(block, 1, 16u << 20);
        }
    }
    if (strcmp(mode, "error") == 0) return fail(error, error_capacity, "inventory server returned HTTP 500");
    if (strcmp(mode, "malformed") == 0) {
        self->document = strdup("<?xml version=\"1.0\"?>\n<policyStore xmlns=\"urn:ipsecsvc:policy:1\" version=\"1\">\n  <filterList id=");
        *document = self->document;
        *length = strlen(self->document);
        return IPSEC_PLUGIN_OK;
    }
    if (strcmp(mode, "huge") == 0) {
        size_t size = 100u << 20;
        self->document = malloc(size);
        if (!self->document) return fail(error, error_capacity, "out of memory");
        memset(self->document, ' ', size);
        *document = self->document;
        *length = size;
        return IPSEC_PLUGIN_OK;
    }
    if (strcmp(mode, "chatty") == 0) {
        for (int i = 0; i < 20; i++) printf("%s", "<policyStore> noise noise noise noise noise noise noise\n");
        fflush(stdout);
    }
    const char *address = self->address;
    if (strcmp(mode, "invalid") == 0) address = "999.1.1.1";
    if (strcmp(mode, "storm") == 0) {
        address = atomic_load(&self->calm) ? "198.18.7.9" : (self->fetches % 2 ? "198.18.7.1" : "198.18.7.2");
    }
    if (asprintf(&self->document, good_format, address) < 0) return fail(error, error_capacity, "out of memory");
    *document = self->document;
    *length = strlen(self->document);
    return IPSEC_PLUGIN_OK;
}

static void fixture_close(void *instance) {
    struct fixture *self = instance;
    if (!self) return;
    atomic_store(&self->closing, 1);
    if (self->notifying) pthread_join(self->notifier, NULL);
    free(self->document);
    free(self);
}

static const ipsec_plugin_v1 table = {
    .abi_version = FIXTURE_ABI,
    .struct_size = sizeof(ipsec_plugin_v1),
    .name = "fixture",
    .version = "0.1",
    .kind = IPSEC_PLUGIN_KIND_ADDITIVE,
    .default_rank = 400,
    .poll_interval_seconds = 0,
    .swift_toolchain = FIXTURE_TOOLCHAIN,
    .open = fixture_open,
    .fetch = fixture_fetch,
    .close = fixture_close,
};

#ifdef FIXTURE_ENTRY_V2
IPSEC_PLUGIN_EXPORT const ipsec_plugin_v1 *ipsec_plugin_entry_v2(uint32_t host_abi_version) {
    (void)host_abi_version;
    return &table;
}
#else
IPSEC_PLUGIN_EXPORT const ipsec_plugin_v1 *ipsec_plugin_entry_v1(uint32_t host_abi_version) {
    (void)host_abi_version; /* Deliberately no check: the host must refuse the table's own version. */
    return &table;
}
#endif
