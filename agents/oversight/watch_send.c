#include "watch_send.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cdof_clock.h"

#define EXEC_POLL_MS 20 /* how often a running command is checked */

int watch_send_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void watch_send_cleanup(void)
{
    curl_global_cleanup();
}

/* --- libcurl --- */

typedef struct {
    const char *data;
    size_t len, off;
} upload_t;

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ctx)
{
    upload_t *u = ctx;
    size_t n = size * nitems, left = u->len - u->off;
    if (n > left)
        n = left;
    memcpy(buf, u->data + u->off, n);
    u->off += n;
    return n;
}

static size_t discard_cb(char *buf, size_t size, size_t nitems, void *ctx)
{
    (void)buf;
    (void)ctx;
    return size * nitems;
}

static int progress_cb(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    volatile sig_atomic_t *stop = ctx;
    return stop && *stop; /* non-zero aborts the transfer */
}

static void common_opts(CURL *c, const watch_receiver_t *r, volatile sig_atomic_t *stop,
                        char *curl_err)
{
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)stop);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,smtp,smtps");
    if (r->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
}

static int curl_result(CURL *c, CURLcode rc, const char *curl_err, char *err, size_t errlen)
{
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", *curl_err ? curl_err : curl_easy_strerror(rc));
        return rc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
    }
    (void)c;
    return 0;
}

/* Strips CR and LF from a header value so that a configured name cannot add headers. */
static void header_value(const char *s, FILE *f)
{
    for (; s && *s; s++)
        fputc(*s == '\r' || *s == '\n' ? ' ' : *s, f);
}

static char *email_message(const watch_receiver_t *r, const watch_note_t *n, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    char date[64];
    time_t t = (time_t)(n->created_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    fprintf(f, "Date: %s\r\nFrom: ", date);
    header_value(r->from, f);
    fputs("\r\nTo: ", f);
    for (size_t i = 0; i < r->to.count; i++) {
        if (i)
            fputs(", ", f);
        header_value(r->to.items[i], f);
    }
    fputs("\r\nSubject: ", f);
    header_value(n->subject, f);
    /* One Message-ID per notice, kept across retries: mail systems drop a repeat of it. */
    fputs("\r\nMessage-ID: <", f);
    header_value(n->key, f);
    fputs("@cdof-watch>\r\nX-Cdof-Idempotency-Key: ", f);
    header_value(n->key, f);
    fputs("\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
          "Content-Transfer-Encoding: 8bit\r\n\r\n",
          f);
    fwrite(n->body, 1, n->body_len, f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int send_email(const watch_receiver_t *r, const watch_note_t *n, volatile sig_atomic_t *stop,
                      char *err, size_t errlen)
{
    size_t len = 0;
    char *msg = email_message(r, n, &len);
    CURL *c = curl_easy_init();
    struct curl_slist *rcpt = NULL;
    int rc = msg && c ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < r->to.count; i++) {
        struct curl_slist *l = curl_slist_append(rcpt, r->to.items[i]);
        if (!l)
            rc = -ENOMEM;
        else
            rcpt = l;
    }
    if (rc == 0) {
        char curl_err[CURL_ERROR_SIZE] = "";
        upload_t u = {msg, len, 0};
        common_opts(c, r, stop, curl_err);
        if (!strncmp(r->url, "smtp://", 7) && r->starttls)
            curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
        if (r->user)
            curl_easy_setopt(c, CURLOPT_USERNAME, r->user);
        if (r->password)
            curl_easy_setopt(c, CURLOPT_PASSWORD, r->password);
        curl_easy_setopt(c, CURLOPT_MAIL_FROM, r->from);
        curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(c, CURLOPT_READDATA, &u);
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        rc = curl_result(c, curl_easy_perform(c), curl_err, err, errlen);
    } else {
        snprintf(err, errlen, "out of memory");
    }
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
    free(msg);
    return rc;
}

static int send_http(const watch_receiver_t *r, const watch_note_t *n, volatile sig_atomic_t *stop,
                     char *err, size_t errlen)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL, *l;
    char key[600];
    snprintf(key, sizeof key, "Idempotency-Key: %s", n->key);
    const char *headers[] = {"Content-Type: application/json; charset=utf-8", key,
                             "User-Agent: cdof-watch/" CDOF_VERSION, "Expect:"};
    int rc = c ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < sizeof headers / sizeof headers[0]; i++) {
        if (!(l = curl_slist_append(h, headers[i])))
            rc = -ENOMEM;
        else
            h = l;
    }
    if (rc == 0) {
        char curl_err[CURL_ERROR_SIZE] = "";
        common_opts(c, r, stop, curl_err);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, n->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n->body_len);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
        rc = curl_result(c, curl_easy_perform(c), curl_err, err, errlen);
        long status = 0;
        if (rc == 0 && curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
            (status < 200 || status > 299)) {
            snprintf(err, errlen, "the receiver answered HTTP %ld", status);
            rc = -EIO;
        }
    } else {
        snprintf(err, errlen, "out of memory");
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc;
}

/* --- exec --- */

extern char **environ;

/* A copy of the environment (the pointer array only) without CDOF_ALERT_SEQUENCE and
 * CDOF_NOTIFICATION_KEY, then with seq (may be NULL) and key added. Caller frees the array. */
static char **env_with(const char *seq, const char *key)
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **env = calloc(n + 3, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(environ[i], "CDOF_ALERT_SEQUENCE=", 20) &&
            strncmp(environ[i], "CDOF_NOTIFICATION_KEY=", 22))
            env[k++] = environ[i];
    }
    if (seq)
        env[k++] = (char *)seq;
    env[k++] = (char *)key;
    return env;
}

/* Runs sh -c COMMAND with the body on its standard input; waits up to the time-out, then kills
 * the command's whole process group. */
static int send_exec(const watch_receiver_t *r, const watch_note_t *n, volatile sig_atomic_t *stop,
                     char *err, size_t errlen)
{
    int fds[2];
    if (pipe(fds) < 0) {
        snprintf(err, errlen, "cannot make a pipe: %s", strerror(errno));
        return -errno;
    }
    /* The command's environment is built here, before fork (the child of a threaded process
     * should only exec), and never by setenv, which would race with other threads' getenv. */
    char seq[64], key[600];
    snprintf(seq, sizeof seq, "CDOF_ALERT_SEQUENCE=%" PRIu64, n->alert_seq);
    snprintf(key, sizeof key, "CDOF_NOTIFICATION_KEY=%s", n->key);
    char **envp = env_with(n->alert_seq ? seq : NULL, key);
    if (!envp) {
        snprintf(err, errlen, "out of memory");
        close(fds[0]);
        close(fds[1]);
        return -ENOMEM;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot fork: %s", strerror(e));
        free(envp);
        close(fds[0]);
        close(fds[1]);
        return -e;
    }
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        close(fds[1]);
        if (dup2(fds[0], STDIN_FILENO) < 0)
            _exit(127);
        if (fds[0] != STDIN_FILENO)
            close(fds[0]);
        /* Standard output is the alert stream: the command's output goes to stderr instead. */
        dup2(STDERR_FILENO, STDOUT_FILENO);
        char *const argv[] = {"sh", "-c", r->command, NULL};
        execve("/bin/sh", argv, envp);
        _exit(127);
    }
    free(envp);
    setpgid(pid, pid); /* also in the parent, so that the kill below cannot miss */
    close(fds[0]);
    /* A digest may exceed the pipe's buffer and the command may never read it: the write end is
     * non-blocking and fed in the same loop that watches the command and its time-out. */
    fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
    size_t off = 0;
    int wfd = fds[1];
    int64_t deadline = cdof_clock_mono_ms() + r->timeout_ms;
    int status = 0;
    for (;;) {
        while (wfd >= 0 && off < n->body_len) {
            ssize_t w = write(wfd, n->body + off, n->body_len - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        /* All written, or the command closed its end (EPIPE: SIGPIPE is ignored). */
        if (wfd >= 0 && (off == n->body_len || errno != EAGAIN)) {
            close(wfd);
            wfd = -1;
        }
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            snprintf(err, errlen, "cannot wait for the command: %s", strerror(errno));
            if (wfd >= 0)
                close(wfd);
            return -ECHILD;
        }
        bool stopping = stop && *stop;
        if (stopping || cdof_clock_mono_ms() >= deadline) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            if (wfd >= 0)
                close(wfd);
            if (stopping)
                snprintf(err, errlen, "killed the command on the way out");
            else
                snprintf(err, errlen, "the command timed out after %ld ms and was killed",
                         r->timeout_ms);
            return -ETIMEDOUT;
        }
        struct timespec ts = {0, EXEC_POLL_MS * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (wfd >= 0)
        close(wfd);
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        snprintf(err, errlen, "the command exited with status %d", WEXITSTATUS(status));
        return -EIO;
    }
    if (WIFSIGNALED(status)) {
        snprintf(err, errlen, "the command was killed by signal %d", WTERMSIG(status));
        return -EIO;
    }
    return 0;
}

int watch_send(const watch_receiver_t *r, const watch_note_t *n, volatile sig_atomic_t *stop,
               char *err, size_t errlen)
{
    *err = '\0';
    switch (r->kind) {
    case WATCH_RECV_EMAIL:
        return send_email(r, n, stop, err, errlen);
    case WATCH_RECV_WEBHOOK:
    case WATCH_RECV_TEAMS:
    case WATCH_RECV_SLACK:
        return send_http(r, n, stop, err, errlen);
    case WATCH_RECV_EXEC:
        return send_exec(r, n, stop, err, errlen);
    }
    snprintf(err, errlen, "unknown receiver type");
    return -EINVAL;
}
