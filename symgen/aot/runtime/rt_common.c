/* symgen native runtime: output buffers shared by the steppers (symgen.drivers.common). */
#include <string.h>
#include "rt_internal.h"

static int64_t grow_cap(int64_t cap, int64_t need) {
    while (cap < need) cap = 2 * cap + 1;
    return cap;
}

int sg_start_outputs(sg_outputs *o, double t0, double tf, const double *y0, double *y,
                     int64_t n, const double *t_eval, int64_t k_eval, int dense, int64_t width,
                     int64_t *stats) {
    memset(o, 0, sizeof(*o));
    o->n = n;
    o->width = width;
    o->dense = dense;
    o->k_eval = k_eval;
    o->cap = 64;
    o->cf_cap = dense ? 64 : 0;
    o->ts = malloc(sizeof(double) * (size_t)o->cap);
    o->ys = malloc(sizeof(double) * (size_t)(o->cap * (n > 0 ? n : 1)));
    o->cf = dense ? malloc(sizeof(double) * (size_t)(o->cf_cap * (width > 0 ? width : 1))) : NULL;
    o->yeval = malloc(sizeof(double) * (size_t)((k_eval * n) > 0 ? k_eval * n : 1));
    if (!o->ts || !o->ys || !o->yeval || (dense && !o->cf)) {
        sg_free_outputs(o);
        return SG_NO_MEMORY;
    }
    for (int64_t i = 0; i < k_eval * n; i++) o->yeval[i] = NAN;
    o->direction = tf >= t0 ? 1.0 : -1.0;
    o->span = fabs(tf - t0);
    for (int64_t i = 0; i < n; i++) y[i] = y0[i];
    o->ts[0] = t0;
    for (int64_t i = 0; i < n; i++) o->ys[i] = y[i];
    o->m = 1;
    o->t = t0;
    o->n_eval = 0;
    while (o->n_eval < k_eval && (t_eval[o->n_eval] - t0) * o->direction <= 0.0) {
        if (t_eval[o->n_eval] == t0)
            for (int64_t i = 0; i < n; i++) o->yeval[o->n_eval * n + i] = y[i];
        o->n_eval++;
    }
    if (n == 0 && o->span > 0.0) {
        o->ts[1] = tf;
        o->m = 2;
        stats[SG_ST_STEPS] = 1;
        stats[SG_ST_ACCEPTED] = 1;
        while (o->n_eval < k_eval && (t_eval[o->n_eval] - tf) * o->direction <= 0.0) o->n_eval++;
        o->t = tf;
        o->span = 0.0;
    }
    return 0;
}

/* append the accepted point (t, y) and, when dense, the step's coefficients rc[width] */
int sg_store_step(sg_outputs *o, double t, const double *y, const double *rc) {
    int64_t n = o->n, m = o->m;
    if (m >= o->cap) {
        int64_t cap = grow_cap(o->cap, m + 1);
        double *ts = realloc(o->ts, sizeof(double) * (size_t)cap);
        if (!ts) return SG_NO_MEMORY;
        o->ts = ts;
        double *ys = realloc(o->ys, sizeof(double) * (size_t)(cap * (n > 0 ? n : 1)));
        if (!ys) return SG_NO_MEMORY;
        o->ys = ys;
        o->cap = cap;
    }
    o->ts[m] = t;
    for (int64_t i = 0; i < n; i++) o->ys[m * n + i] = y[i];
    if (o->dense) {
        if (m - 1 >= o->cf_cap) {
            int64_t cap = grow_cap(o->cf_cap, m);
            double *cf = realloc(o->cf, sizeof(double) * (size_t)(cap * (o->width > 0 ? o->width : 1)));
            if (!cf) return SG_NO_MEMORY;
            o->cf = cf;
            o->cf_cap = cap;
        }
        for (int64_t j = 0; j < o->width; j++) o->cf[(m - 1) * o->width + j] = rc[j];
    }
    o->m = m + 1;
    return 0;
}

void sg_finish_outputs(sg_outputs *o, int64_t status, double t_reached, const int64_t *stats,
                       int64_t k, sg_result *res) {
    res->status = status;
    res->t_reached = t_reached;
    for (int j = 0; j < SG_N_STATS; j++) res->stats[j] = stats[j];
    res->n = o->n;
    res->m = o->m;
    res->k = k;
    res->n_eval = o->n_eval;
    res->ts = o->ts;
    res->ys = o->ys;
    res->coeffs = o->dense ? o->cf : NULL;
    if (!o->dense) free(o->cf);
    res->yeval = o->yeval;
    o->ts = o->ys = o->cf = o->yeval = NULL;
}

void sg_free_outputs(sg_outputs *o) {
    free(o->ts);
    free(o->ys);
    free(o->cf);
    free(o->yeval);
    o->ts = o->ys = o->cf = o->yeval = NULL;
}

void sg_result_free(sg_result *res) {
    if (!res) return;
    free(res->ts);
    free(res->ys);
    free(res->coeffs);
    free(res->yeval);
    res->ts = res->ys = res->coeffs = res->yeval = NULL;
}

const char *sg_status_message(int64_t status) {
    switch (status) {
    case SG_SUCCESS: return "the solver reached the end of the time span";
    case SG_MAX_STEPS: return "maximum number of steps reached";
    case SG_STEP_UNDERFLOW: return "step size became too small";
    case SG_NONFINITE: return "non-finite values (NaN/Inf) in the right-hand side";
    case SG_STIFF_DETECTED: return "problem detected as stiff";
    case SG_NEWTON_FAILED: return "Newton iteration failed to converge at the smallest step size";
    case SG_SINGULAR: return "Newton matrix singular";
    case SG_NO_MEMORY: return "out of memory";
    case SG_BAD_ARGUMENT: return "invalid arguments";
    default: return "unknown status";
    }
}
