/* A numeric CSV body -> float64 values, row-major: the smallest native reader for issue 18.
 *
 * Each number takes Clinger's fast path when its decimal mantissa fits in 2^53 and its power
 * of ten in [-22, 22]: both are then exact doubles, and one IEEE multiplication or division
 * rounds once, correctly, as Python's float() does. Any other number goes to glibc's strtod,
 * which rounds correctly too. Anything that is not a plain grid of numbers (an empty cell, a
 * blank line, whitespace, nan/inf words, a short or long row) returns -1, so the caller keeps
 * its precise path for it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const double P10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Parse s[0:n] (rows of `cols` numbers, ',' between, '\n' after each row, the last one
 * optional) into out[0:cap]; the count of numbers, or -1 to decline. */
long fastcsv_parse(const char *s, long n, long cols, double *out, long cap) {
    const char *p = s, *end = s + n;
    long count = 0, col = 0;
    char buf[512];
    while (p < end) {
        const char *start = p;
        int neg = 0;
        if (*p == '-' || *p == '+') {
            neg = (*p == '-');
            p++;
        }
        uint64_t m = 0;
        int digits = 0, exp10 = 0, any = 0, exact = 1;
        while (p < end && (unsigned)(*p - '0') < 10) {
            any = 1;
            if (m || *p != '0') {
                if (digits < 19) {
                    m = m * 10 + (uint64_t)(*p - '0');
                    digits++;
                } else {
                    exact = 0;
                    exp10++;
                }
            }
            p++;
        }
        if (p < end && *p == '.') {
            p++;
            while (p < end && (unsigned)(*p - '0') < 10) {
                any = 1;
                if (m || *p != '0') {
                    if (digits < 19) {
                        m = m * 10 + (uint64_t)(*p - '0');
                        digits++;
                        exp10--;
                    } else {
                        exact = 0;
                    }
                } else {
                    exp10--;
                }
                p++;
            }
        }
        if (!any) return -1;
        if (p < end && (*p == 'e' || *p == 'E')) {
            int eneg = 0, e = 0, edigits = 0;
            p++;
            if (p < end && (*p == '-' || *p == '+')) {
                eneg = (*p == '-');
                p++;
            }
            while (p < end && (unsigned)(*p - '0') < 10) {
                if (e < 100000) e = e * 10 + (*p - '0');
                edigits++;
                p++;
            }
            if (!edigits) return -1;
            exp10 += eneg ? -e : e;
        }
        if (p < end && *p != ',' && *p != '\n') return -1;
        if (count >= cap) return -1;
        double v;
        if (exact && m <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
            v = (double)m;
            v = exp10 < 0 ? v / P10[-exp10] : v * P10[exp10];
            if (neg) v = -v;
        } else {
            long len = (long)(p - start);
            if (len >= (long)sizeof(buf)) return -1;
            memcpy(buf, start, (size_t)len);
            buf[len] = 0;
            v = strtod(buf, NULL);
        }
        out[count++] = v;
        col++;
        if (p < end && *p == ',') {
            p++;
            if (p == end || *p == '\n') return -1; /* an empty last cell */
        } else {
            if (col != cols) return -1;
            col = 0;
            if (p < end) p++;
        }
    }
    return col == 0 ? count : -1;
}
