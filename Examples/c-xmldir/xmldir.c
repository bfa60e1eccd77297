/*
 * xmldir: an ipsecsvc policy-source plugin in plain C.
 *
 * Serves policy from a directory of native XML files (the format of `ipsecsvc policy export`). The
 * directory is a ranked list: the first *.xml file in name order wins, so "10-site.xml" overrides
 * "50-default.xml"; removing it falls back to the next. With no file the source has nothing to say
 * and delivers an empty store. A watcher thread (inotify) signals every change to the host, and the
 * host also polls every 60 seconds as a safety net.
 *
 * Options (plugins.d: option.NAME = VALUE):
 *   directory   the directory to read (required)
 *
 * Build:
 *   cc -std=c11 -O2 -Wall -Wextra -shared -fPIC -fvisibility=hidden \
 *      -I ../../Sources/CIPsecPluginABI/include -o libxmldir.so xmldir.c -lpthread
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "ipsec_plugin.h"

#define MAX_DOCUMENT (16u << 20)

static const char empty_store[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<policyStore xmlns=\"urn:ipsecsvc:policy:1\" version=\"1\"/>\n";

struct xmldir {
    char *directory;
    char *document; /* the last document; valid until the next fetch or close */
    ipsec_plugin_changed_fn changed;
    void *host_context;
    int inotify_fd;
    int stop_pipe[2];
    pthread_t watcher;
    int watching;
};

/* Reports a failure in the host's buffer. */
static int32_t fail(char *error, size_t capacity, const char *what, const char *detail) {
    snprintf(error, capacity, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
    return IPSEC_PLUGIN_ERROR;
}

/* The watcher thread: tells the host about every change in the directory until close. */
static void *watch(void *argument) {
    struct xmldir *self = argument;
    char events[4096];
    for (;;) {
        struct pollfd fds[2] = {{self->inotify_fd, POLLIN, 0}, {self->stop_pipe[0], POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[1].revents) break;
        if (read(self->inotify_fd, events, sizeof events) > 0) self->changed(self->host_context);
    }
    return NULL;
}

static int32_t xmldir_open(const char *configuration, ipsec_plugin_changed_fn changed, void *host_context,
                           void **instance, char *error, size_t error_capacity) {
    const char *directory = NULL;
    size_t directory_length = 0;
    /* The configuration is "key=value" lines. */
    for (const char *line = configuration; *line;) {
        const char *end = strchr(line, '\n');
        size_t length = end ? (size_t)(end - line) : strlen(line);
        if (length > 10 && strncmp(line, "directory=", 10) == 0) {
            directory = line + 10;
            directory_length = length - 10;
        } else if (length > 0) {
            return fail(error, error_capacity, "unknown option (known: directory)", NULL);
        }
        line += length + (end ? 1 : 0);
    }
    if (!directory || directory_length == 0) return fail(error, error_capacity, "option directory is required", NULL);

    struct xmldir *self = calloc(1, sizeof *self);
    if (!self) return fail(error, error_capacity, "out of memory", NULL);
    self->directory = strndup(directory, directory_length);
    self->changed = changed;
    self->host_context = host_context;
    self->inotify_fd = inotify_init1(IN_CLOEXEC);
    if (self->inotify_fd >= 0 &&
        inotify_add_watch(self->inotify_fd, self->directory,
                          IN_CREATE | IN_DELETE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE) >= 0 &&
        pipe2(self->stop_pipe, O_CLOEXEC) == 0 && pthread_create(&self->watcher, NULL, watch, self) == 0) {
        self->watching = 1;
    }
    /* Without inotify the host's 60-second poll still picks changes up. */
    *instance = self;
    return IPSEC_PLUGIN_OK;
}

static int32_t xmldir_fetch(void *instance, const char **document, size_t *length, char *error,
                            size_t error_capacity) {
    struct xmldir *self = instance;
    DIR *dir = opendir(self->directory);
    if (!dir) return fail(error, error_capacity, self->directory, strerror(errno));

    char *best = NULL;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        size_t n = strlen(entry->d_name);
        if (entry->d_name[0] == '.' || n < 5 || strcmp(entry->d_name + n - 4, ".xml") != 0) continue;
        if (!best || strcmp(entry->d_name, best) < 0) {
            free(best);
            best = strdup(entry->d_name);
        }
    }
    closedir(dir);

    free(self->document);
    self->document = NULL;
    if (!best) {
        *document = empty_store;
        *length = sizeof empty_store - 1;
        return IPSEC_PLUGIN_OK;
    }

    char path[4096];
    snprintf(path, sizeof path, "%s/%s", self->directory, best);
    free(best);
    FILE *file = fopen(path, "rb");
    if (!file) return fail(error, error_capacity, path, strerror(errno));
    char *buffer = malloc(MAX_DOCUMENT + 1);
    size_t size = buffer ? fread(buffer, 1, MAX_DOCUMENT + 1, file) : 0;
    fclose(file);
    if (!buffer) return fail(error, error_capacity, "out of memory", NULL);
    if (size > MAX_DOCUMENT) {
        free(buffer);
        return fail(error, error_capacity, path, "larger than 16 MiB");
    }
    self->document = buffer;
    *document = buffer;
    *length = size;
    return IPSEC_PLUGIN_OK;
}

static void xmldir_close(void *instance) {
    struct xmldir *self = instance;
    if (!self) return;
    if (self->watching) {
        /* Stop and join the watcher first: after close returns, `changed` must not be called. */
        (void)!write(self->stop_pipe[1], "x", 1);
        pthread_join(self->watcher, NULL);
        close(self->stop_pipe[0]);
        close(self->stop_pipe[1]);
    }
    if (self->inotify_fd >= 0) close(self->inotify_fd);
    free(self->document);
    free(self->directory);
    free(self);
}

static const ipsec_plugin_v1 table = {
    .abi_version = IPSEC_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(ipsec_plugin_v1),
    .name = "xmldir",
    .version = "1.0.0",
    .kind = IPSEC_PLUGIN_KIND_DIRECTORY_LIKE,
    .default_rank = 150,
    .poll_interval_seconds = 60,
    .swift_toolchain = NULL,
    .open = xmldir_open,
    .fetch = xmldir_fetch,
    .close = xmldir_close,
};

IPSEC_PLUGIN_EXPORT const ipsec_plugin_v1 *ipsec_plugin_entry_v1(uint32_t host_abi_version) {
    return host_abi_version == IPSEC_PLUGIN_ABI_VERSION ? &table : NULL;
}
