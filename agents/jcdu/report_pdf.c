/* The report printed to PDF by headless Chromium (report.h). The page's own print style sheet
 * sets A4, page numbers and page breaks; Chromium's header and footer (the file's path and the
 * date) are turned off. */
#define _GNU_SOURCE /* mkdtemp, nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

extern char **environ;

/* The first of CDOF_CHROMIUM and chromium, chromium-browser, google-chrome on PATH that can be
 * run, into out. */
static bool find_browser(char *out, size_t len)
{
    const char *env = getenv("CDOF_CHROMIUM");
    if (env && *env) {
        snprintf(out, len, "%s", env);
        return access(out, X_OK) == 0;
    }
    static const char *names[] = {"chromium", "chromium-browser", "google-chrome"};
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (size_t n = 0; n < sizeof names / sizeof *names; n++) {
        for (const char *p = path; *p;) {
            size_t dl = strcspn(p, ":");
            snprintf(out, len, "%.*s/%s", (int)dl, p, names[n]);
            if (dl && access(out, X_OK) == 0)
                return true;
            p += dl + (p[dl] == ':');
        }
    }
    return false;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

int cdof_report_pdf(const char *html_path, const char *pdf_path, int timeout_s, char *err,
                    size_t errlen)
{
    char browser[PATH_MAX];
    if (!find_browser(browser, sizeof browser)) {
        snprintf(err, errlen,
                 "no PDF written: headless Chromium was not found (install Debian's chromium "
                 "package, or set CDOF_CHROMIUM to the browser); the HTML report is complete "
                 "and prints to A4 from any browser");
        return -ENOENT;
    }
    char abs_html[PATH_MAX], url[PATH_MAX + 16], tmp[PATH_MAX], out_arg[PATH_MAX + 32];
    char profile[] = "/tmp/cdof-pdf-XXXXXX", profile_arg[64];
    if (!realpath(html_path, abs_html)) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", html_path, strerror(e));
        return -e;
    }
    snprintf(url, sizeof url, "file://%s", abs_html);
    snprintf(tmp, sizeof tmp, "%s.tmp", pdf_path);
    snprintf(out_arg, sizeof out_arg, "--print-to-pdf=%s", tmp);
    if (!mkdtemp(profile)) {
        int e = errno;
        snprintf(err, errlen, "cannot make a browser profile directory: %s", strerror(e));
        return -e;
    }
    snprintf(profile_arg, sizeof profile_arg, "--user-data-dir=%s", profile);
    unlink(tmp);
    /* No network, no first-run work, a fresh profile; the sandbox needs a non-root user. */
    char *argv[] = {browser,
                    "--headless",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    "--no-pdf-header-footer",
                    profile_arg,
                    out_arg,
                    geteuid() == 0 ? "--no-sandbox" : url,
                    geteuid() == 0 ? url : NULL,
                    NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    /* The browser's chatter goes nowhere: its failures show as a missing PDF. */
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, browser, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        snprintf(err, errlen, "cannot run %s: %s", browser, strerror(rc));
        nftw(profile, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return -rc;
    }
    int status = 0;
    bool done = false;
    for (long waited_ms = 0; waited_ms <= (long)timeout_s * 1000; waited_ms += 100) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) {
            done = true;
            break;
        }
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    nftw(profile, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    struct stat st;
    if (!done || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || stat(tmp, &st) < 0 ||
        st.st_size == 0) {
        snprintf(err, errlen, "%s did not print %s to PDF (%s)", browser, html_path,
                 !done ? "timed out" : "it exited with an error or wrote nothing");
        unlink(tmp);
        return -EIO;
    }
    if (rename(tmp, pdf_path) < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", pdf_path, strerror(e));
        unlink(tmp);
        return -e;
    }
    return 0;
}
