/* The report's tables as one OpenDocument spreadsheet (report.h): the XML from report_render,
 * the zip container from libzip. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zip.h>

#include "cdof_error.h"
#include "report.h"

/* Adds a file to the archive from memory the archive does not own (it must live until close). */
static int add(zip_t *z, const char *name, const char *data, size_t len, bool store)
{
    zip_source_t *src = zip_source_buffer(z, data, len, 0);
    if (!src)
        return -1;
    zip_int64_t at = zip_file_add(z, name, src, ZIP_FL_ENC_UTF_8);
    if (at < 0) {
        zip_source_free(src);
        return -1;
    }
    /* ODF: the mimetype comes first, stored, so that it can be read at a fixed offset. */
    return zip_set_file_compression(z, (zip_uint64_t)at, store ? ZIP_CM_STORE : ZIP_CM_DEFLATE, 0);
}

int cdof_report_write_ods(const cdof_rr_table_t *const *tables, size_t n, const char *title,
                          const char *notes, const char *path, char *err, size_t errlen)
{
    cdof_rr_buf_t content = {0};
    int rc = cdof_rr_ods_content(tables, n, title, notes, &content);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", path, cdof_strerror(rc));
        cdof_rr_buf_free(&content);
        return rc;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    unlink(tmp);
    int zerr = 0;
    zip_t *z = zip_open(tmp, ZIP_CREATE | ZIP_EXCL, &zerr);
    if (!z) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        snprintf(err, errlen, "%s: %s", tmp, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        cdof_rr_buf_free(&content);
        return -EIO;
    }
    if (add(z, "mimetype", cdof_rr_ods_mimetype, strlen(cdof_rr_ods_mimetype), true) < 0 ||
        add(z, "META-INF/manifest.xml", cdof_rr_ods_manifest, strlen(cdof_rr_ods_manifest), false) <
            0 ||
        add(z, "content.xml", content.data, content.len, false) < 0) {
        snprintf(err, errlen, "%s: %s", tmp, zip_strerror(z));
        zip_discard(z);
        cdof_rr_buf_free(&content);
        return -EIO;
    }
    if (zip_close(z) < 0) { /* writes the archive: the buffers must live until here */
        snprintf(err, errlen, "%s: %s", tmp, zip_strerror(z));
        zip_discard(z);
        unlink(tmp);
        cdof_rr_buf_free(&content);
        return -EIO;
    }
    cdof_rr_buf_free(&content);
    if (rename(tmp, path) < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        unlink(tmp);
        return -e;
    }
    return 0;
}
