/* symgen native runtime: helpers shared by the steppers (not part of the public API). */
#ifndef SYMGEN_RT_INTERNAL_H
#define SYMGEN_RT_INTERNAL_H

#include <math.h>
#include <stdlib.h>
#include "symgen_rt.h"

#define SG_EPS 2.220446049250313e-16

/* min/max exactly as the compiled Python drivers evaluate them (the second argument is
 * taken only when it compares strictly smaller / larger) */
static inline double sg_min(double a, double b) { return b < a ? b : a; }
static inline double sg_max(double a, double b) { return b > a ? b : a; }

/* x ** k for an integer k >= 0 by binary powering (as the drivers' integer powers) */
static inline double sg_ipow(double a, int64_t k) {
    double r = 1.0;
    while (k != 0) {
        if (k & 1) r *= a;
        k >>= 1;
        a *= a;
    }
    return r;
}

static inline int sg_all_finite(const double *a, int64_t len) {
    for (int64_t i = 0; i < len; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

/* growing output buffers of one integration */
typedef struct {
    int64_t n, width, cap, cf_cap, m, n_eval, k_eval;
    int dense;
    double *ts, *ys, *cf, *yeval;
    double t, direction, span;
} sg_outputs;

int sg_start_outputs(sg_outputs *o, double t0, double tf, const double *y0, double *y,
                     int64_t n, const double *t_eval, int64_t k_eval, int dense, int64_t width,
                     int64_t *stats);
int sg_store_step(sg_outputs *o, double t, const double *y, const double *rc);
void sg_finish_outputs(sg_outputs *o, int64_t status, double t_reached, const int64_t *stats,
                       int64_t k, sg_result *res);
void sg_free_outputs(sg_outputs *o);

#endif
