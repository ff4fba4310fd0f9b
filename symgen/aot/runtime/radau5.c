/* symgen native runtime: Radau IIA (order 5, three stages) with simplified Newton on the
 * transformed stage equations, dense LU with partial pivoting or static-pattern sparse LU,
 * embedded error estimate,
 * Gustafsson's predictive step control and dense output -- a line-by-line port of the
 * dense- and sparse-LU paths of symgen/drivers/radau5.py and symgen/drivers/sparse_lu.py
 * (same operations in the same order, same
 * defaults and status codes); see that module for the method and its references.
 * The method constants come from radau5_constants.h, written by symgen from the values
 * its drivers use (exact hexadecimal literals). */
#include "rt_internal.h"
#include "radau5_constants.h"

#define NIT 7
#define SAFE 0.9
#define THET 0.001
#define QUOT1 1.0
#define QUOT2 1.2
#define LARGE_N 500
#define THET_LARGE 0.1
#define QUOT1_LARGE 0.99
#define QUOT2_LARGE 2.0
#define FACL 5.0
#define FACR 0.125
#define MAX_SINGULAR 5

enum { FAIL_NONE, FAIL_ERROR, FAIL_NEWTON, FAIL_NONFINITE, FAIL_SINGULAR };

/* complex numbers as (re, im) pairs with the drivers' arithmetic */
typedef struct { double re, im; } cplx;

static inline cplx c_mul(cplx z, cplx w) {
    double ac = z.re * w.re, bd = z.im * w.im, ad = z.re * w.im, bc = z.im * w.re;
    cplx r = {ac - bd, ad + bc};
    return r;
}

static inline cplx c_div(cplx a, cplx b) {
    double abr = fabs(b.re), abi = fabs(b.im);
    cplx r;
    if (abr >= abi) {
        double ratio = b.im / b.re;
        double denom = b.re + b.im * ratio;
        r.re = (a.re + a.im * ratio) / denom;
        r.im = (a.im - a.re * ratio) / denom;
    } else if (abi >= abr) {
        double ratio = b.re / b.im;
        double denom = b.re * ratio + b.im;
        r.re = (a.re * ratio + a.im) / denom;
        r.im = (a.im * ratio - a.re) / denom;
    } else {
        r.re = NAN;
        r.im = NAN;
    }
    return r;
}

/* In-place LU with row pivoting (radau5.lu_factor); 0, k+1 (zero pivot), -(k+1) (not finite). */
static int64_t lu_factor_real(double *a, int64_t *piv, int64_t n) {
    for (int64_t k = 0; k < n; k++) {
        int64_t pk = k;
        double amax = fabs(a[k * n + k]) + 0.0;
        for (int64_t i = k + 1; i < n; i++) {
            double v = fabs(a[i * n + k]) + 0.0;
            if (v > amax) {
                amax = v;
                pk = i;
            }
        }
        piv[k] = pk;
        if (!isfinite(amax)) return -(k + 1);
        if (amax == 0.0) return k + 1;
        if (pk != k)
            for (int64_t j = 0; j < n; j++) {
                double tmp = a[k * n + j];
                a[k * n + j] = a[pk * n + j];
                a[pk * n + j] = tmp;
            }
        double inv = 1.0 / a[k * n + k];
        for (int64_t i = k + 1; i < n; i++) {
            double lik = a[i * n + k] * inv;
            a[i * n + k] = lik;
            if (lik != 0.0)
                for (int64_t j = k + 1; j < n; j++) a[i * n + j] -= lik * a[k * n + j];
        }
    }
    return 0;
}

static int64_t lu_factor_complex(cplx *a, int64_t *piv, int64_t n) {
    const cplx one = {1.0, 0.0};
    for (int64_t k = 0; k < n; k++) {
        int64_t pk = k;
        double amax = fabs(a[k * n + k].re) + fabs(a[k * n + k].im);
        for (int64_t i = k + 1; i < n; i++) {
            double v = fabs(a[i * n + k].re) + fabs(a[i * n + k].im);
            if (v > amax) {
                amax = v;
                pk = i;
            }
        }
        piv[k] = pk;
        if (!isfinite(amax)) return -(k + 1);
        if (amax == 0.0) return k + 1;
        if (pk != k)
            for (int64_t j = 0; j < n; j++) {
                cplx tmp = a[k * n + j];
                a[k * n + j] = a[pk * n + j];
                a[pk * n + j] = tmp;
            }
        cplx inv = c_div(one, a[k * n + k]);
        for (int64_t i = k + 1; i < n; i++) {
            cplx lik = c_mul(a[i * n + k], inv);
            a[i * n + k] = lik;
            if (lik.re != 0.0 || lik.im != 0.0)
                for (int64_t j = k + 1; j < n; j++) {
                    cplx pr = c_mul(lik, a[k * n + j]);
                    a[i * n + j].re -= pr.re;
                    a[i * n + j].im -= pr.im;
                }
        }
    }
    return 0;
}

static void lu_solve_real(const double *lu, const int64_t *piv, double *b, int64_t n) {
    for (int64_t k = 0; k < n; k++) {
        int64_t pk = piv[k];
        if (pk != k) {
            double tmp = b[k];
            b[k] = b[pk];
            b[pk] = tmp;
        }
    }
    for (int64_t i = 0; i < n; i++) {
        double s = b[i];
        for (int64_t j = 0; j < i; j++) s -= lu[i * n + j] * b[j];
        b[i] = s;
    }
    for (int64_t i = n - 1; i >= 0; i--) {
        double s = b[i];
        for (int64_t j = i + 1; j < n; j++) s -= lu[i * n + j] * b[j];
        b[i] = s / lu[i * n + i];
    }
}

static void lu_solve_complex(const cplx *lu, const int64_t *piv, cplx *b, int64_t n) {
    for (int64_t k = 0; k < n; k++) {
        int64_t pk = piv[k];
        if (pk != k) {
            cplx tmp = b[k];
            b[k] = b[pk];
            b[pk] = tmp;
        }
    }
    for (int64_t i = 0; i < n; i++) {
        cplx s = b[i];
        for (int64_t j = 0; j < i; j++) {
            cplx pr = c_mul(lu[i * n + j], b[j]);
            s.re -= pr.re;
            s.im -= pr.im;
        }
        b[i] = s;
    }
    for (int64_t i = n - 1; i >= 0; i--) {
        cplx s = b[i];
        for (int64_t j = i + 1; j < n; j++) {
            cplx pr = c_mul(lu[i * n + j], b[j]);
            s.re -= pr.re;
            s.im -= pr.im;
        }
        b[i] = c_div(s, lu[i * n + i]);
    }
}

/* ---- static-pattern sparse LU (symgen.drivers.sparse_lu.sparse_lu_factor / _solve) ---- */
#define PIVOT_RTOL 1e-14

static inline double c_abs(cplx z) {
    if (isinf(z.re) || isinf(z.im)) return INFINITY;
    return hypot(z.re, z.im);
}

/* Factor s I - J (J by its CSR values jv) over the plan's pattern into vals; the diagonal
 * slots receive the reciprocal pivots.  0, i+1 (tiny pivot), -(i+1) (not finite). */
static int64_t sparse_factor_real(const sg_sparse_plan *pl, const double *jv, double s, double *vals,
                                  double *work) {
    int64_t n = pl->n;
    const uint32_t *ip = pl->indptr, *ix = pl->indices, *dg = pl->diag;
    for (int64_t q = 0; q < pl->nnz_lu; q++) vals[q] = 0.0;
    for (int64_t k = 0; k < pl->nnz_j; k++) vals[pl->amap[k]] -= jv[k];
    for (int64_t i = 0; i < n; i++) vals[dg[i]] += s;
    for (int64_t i = 0; i < n; i++) {
        int64_t rs = ip[i], re = ip[i + 1];
        double rmax = 0.0;
        for (int64_t q = rs; q < re; q++) {
            double v = vals[q];
            work[ix[q]] = v;
            double a = fabs(v);
            if (a > rmax) rmax = a;
        }
        if (!isfinite(rmax)) return -(i + 1);
        for (int64_t q = rs; q < (int64_t)dg[i]; q++) {
            int64_t k = ix[q];
            double lk = work[k] * vals[dg[k]];
            work[k] = lk;
            int64_t d = (int64_t)dg[k] + 1, e = ip[k + 1];
            if (e - d == n - 1 - k) {
                double *wk = work + k + 1;
                const double *uk = vals + d;
                for (int64_t t = 0; t < e - d; t++) wk[t] -= lk * uk[t];
            } else {
                for (int64_t q2 = d; q2 < e; q2++) work[ix[q2]] -= lk * vals[q2];
            }
        }
        double piv = work[i];
        double apiv = fabs(piv);
        if (!isfinite(apiv)) return -(i + 1);
        if (!(apiv > PIVOT_RTOL * rmax)) return i + 1;
        for (int64_t q = rs; q < re; q++) vals[q] = work[ix[q]];
        vals[dg[i]] = 1.0 / piv;
    }
    return 0;
}

static int64_t sparse_factor_complex(const sg_sparse_plan *pl, const double *jv, cplx s, cplx *vals,
                                     cplx *work) {
    const cplx one = {1.0, 0.0};
    int64_t n = pl->n;
    const uint32_t *ip = pl->indptr, *ix = pl->indices, *dg = pl->diag;
    for (int64_t q = 0; q < pl->nnz_lu; q++) vals[q].re = vals[q].im = 0.0;
    for (int64_t k = 0; k < pl->nnz_j; k++) {
        vals[pl->amap[k]].re -= jv[k];
        vals[pl->amap[k]].im -= 0.0;
    }
    for (int64_t i = 0; i < n; i++) {
        vals[dg[i]].re += s.re;
        vals[dg[i]].im += s.im;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t rs = ip[i], re = ip[i + 1];
        double rmax = 0.0;
        for (int64_t q = rs; q < re; q++) {
            cplx v = vals[q];
            work[ix[q]] = v;
            double a = c_abs(v);
            if (a > rmax) rmax = a;
        }
        if (!isfinite(rmax)) return -(i + 1);
        for (int64_t q = rs; q < (int64_t)dg[i]; q++) {
            int64_t k = ix[q];
            cplx lk = c_mul(work[k], vals[dg[k]]);
            work[k] = lk;
            int64_t d = (int64_t)dg[k] + 1, e = ip[k + 1];
            if (e - d == n - 1 - k) {
                cplx *wk = work + k + 1;
                const cplx *uk = vals + d;
                for (int64_t t = 0; t < e - d; t++) {
                    cplx pr = c_mul(lk, uk[t]);
                    wk[t].re -= pr.re;
                    wk[t].im -= pr.im;
                }
            } else {
                for (int64_t q2 = d; q2 < e; q2++) {
                    cplx pr = c_mul(lk, vals[q2]);
                    work[ix[q2]].re -= pr.re;
                    work[ix[q2]].im -= pr.im;
                }
            }
        }
        cplx piv = work[i];
        double apiv = c_abs(piv);
        if (!isfinite(apiv)) return -(i + 1);
        if (!(apiv > PIVOT_RTOL * rmax)) return i + 1;
        for (int64_t q = rs; q < re; q++) vals[q] = work[ix[q]];
        vals[dg[i]] = c_div(one, piv);
    }
    return 0;
}

static void sparse_solve_real(const sg_sparse_plan *pl, const double *vals, double *b, double *work) {
    int64_t n = pl->n;
    const uint32_t *ip = pl->indptr, *ix = pl->indices, *dg = pl->diag, *perm = pl->perm;
    for (int64_t i = 0; i < n; i++) work[i] = b[perm[i]];
    for (int64_t i = 0; i < n; i++) {
        double acc = work[i];
        for (int64_t q = ip[i]; q < (int64_t)dg[i]; q++) acc -= vals[q] * work[ix[q]];
        work[i] = acc;
    }
    for (int64_t i = n - 1; i >= 0; i--) {
        double acc = work[i];
        for (int64_t q = (int64_t)dg[i] + 1; q < (int64_t)ip[i + 1]; q++) acc -= vals[q] * work[ix[q]];
        work[i] = acc * vals[dg[i]];
    }
    for (int64_t i = 0; i < n; i++) b[perm[i]] = work[i];
}

static void sparse_solve_complex(const sg_sparse_plan *pl, const cplx *vals, cplx *b, cplx *work) {
    int64_t n = pl->n;
    const uint32_t *ip = pl->indptr, *ix = pl->indices, *dg = pl->diag, *perm = pl->perm;
    for (int64_t i = 0; i < n; i++) work[i] = b[perm[i]];
    for (int64_t i = 0; i < n; i++) {
        cplx acc = work[i];
        for (int64_t q = ip[i]; q < (int64_t)dg[i]; q++) {
            cplx pr = c_mul(vals[q], work[ix[q]]);
            acc.re -= pr.re;
            acc.im -= pr.im;
        }
        work[i] = acc;
    }
    for (int64_t i = n - 1; i >= 0; i--) {
        cplx acc = work[i];
        for (int64_t q = (int64_t)dg[i] + 1; q < (int64_t)ip[i + 1]; q++) {
            cplx pr = c_mul(vals[q], work[ix[q]]);
            acc.re -= pr.re;
            acc.im -= pr.im;
        }
        work[i] = c_mul(acc, vals[dg[i]]);
    }
    for (int64_t i = 0; i < n; i++) b[perm[i]] = work[i];
}

static double wrms(const double *v, const double *scal, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double r = v[i] / scal[i];
        s += r * r;
    }
    return sqrt(s / (double)n);
}

static double initial_step(sg_kernel rhs, double t0, const double *y0, const double *f0,
                           const double *p, double direction, double rtol, const double *atol,
                           double hmax, int order, int64_t n, double *scal, double *y1,
                           double *f1) {
    for (int64_t i = 0; i < n; i++) scal[i] = atol[i] + rtol * fabs(y0[i]);
    double d0 = wrms(y0, scal, n), d1 = wrms(f0, scal, n), h0, h1;
    if (d0 < 1e-5 || d1 < 1e-5)
        h0 = 1e-6;
    else
        h0 = 0.01 * d0 / d1;
    h0 = sg_min(h0, hmax);
    for (int64_t i = 0; i < n; i++) y1[i] = y0[i] + direction * h0 * f0[i];
    rhs(t0 + direction * h0, y1, p, f1);
    for (int64_t i = 0; i < n; i++) f1[i] -= f0[i];
    double d2 = wrms(f1, scal, n) / h0;
    if (!isfinite(d2)) return sg_min(h0 * 1e-3, hmax);
    if (d1 <= 1e-15 && d2 <= 1e-15)
        h1 = sg_max(1e-6, h0 * 1e-3);
    else
        h1 = pow(0.01 / sg_max(d1, d2), 1.0 / (double)(order + 1));
    return sg_min(sg_min(100.0 * h0, h1), hmax);
}

static int64_t underflow_status(int reason) {
    if (reason == FAIL_NONFINITE) return SG_NONFINITE;
    if (reason == FAIL_NEWTON) return SG_NEWTON_FAILED;
    if (reason == FAIL_SINGULAR) return SG_SINGULAR;
    return SG_STEP_UNDERFLOW;
}

int64_t sg_radau5(sg_kernel rhs, sg_kernel jac, sg_kernel jacv, int64_t nnz,
                  const int64_t *indptr, const int64_t *indices, const sg_sparse_plan *plan,
                  int64_t n, double t0,
                  double tf, const double *y0, const double *p, double rtol,
                  const double *atol, double h0, double hmax, int64_t max_steps,
                  const double *t_eval, int64_t k_eval, int dense, sg_result *res) {
    int64_t stats[SG_N_STATS] = {0};
    sg_outputs o;
    int sparse = plan != NULL;
    int from_values = !sparse && indptr != NULL;
    if (!res || n < 0 || k_eval < 0 || (n > 0 && (!y0 || !atol)) || (k_eval > 0 && !t_eval) ||
        (sparse && (!jacv || plan->n != n || plan->nnz_j < 0 || plan->nnz_lu < 0)) ||
        (from_values && (!jacv || !indices || nnz < 0)) || (!sparse && !from_values && !jac))
        return SG_BAD_ARGUMENT;
    size_t nn = (size_t)(n > 0 ? n : 1);
    size_t nd = sparse ? 1 : nn;                       /* dense work arrays only when dense */
    size_t nlu = sparse ? (size_t)(plan->nnz_lu > 0 ? plan->nnz_lu : 1) : 1;
    int64_t njv = sparse ? plan->nnz_j : (from_values ? nnz : 0);
    /* work arrays: J, E1 (n x n), E2 (complex n x n), jv, sparse factors, 11 vectors,
     * Q, Z, W, F (3 x n) */
    double *J = malloc(sizeof(double) * nd * nd);
    double *E1 = malloc(sizeof(double) * nd * nd);
    cplx *E2 = malloc(sizeof(cplx) * nd * nd);
    double *jv = malloc(sizeof(double) * (size_t)(njv > 0 ? njv : 1));
    int64_t *piv = malloc(sizeof(int64_t) * nd * 2);
    double *vec = malloc(sizeof(double) * nn * (11 + 12));
    cplx *rc = malloc(sizeof(cplx) * nn);
    double *luv1 = malloc(sizeof(double) * nlu), *luw1 = malloc(sizeof(double) * nn);
    cplx *luv2 = malloc(sizeof(cplx) * nlu), *luw2 = malloc(sizeof(cplx) * nn);
    if (!J || !E1 || !E2 || !jv || !piv || !vec || !rc || !luv1 || !luw1 || !luv2 || !luw2) {
        free(J); free(E1); free(E2); free(jv); free(piv); free(vec); free(rc);
        free(luv1); free(luw1); free(luv2); free(luw2);
        return SG_NO_MEMORY;
    }
    int64_t *piv1 = piv, *piv2 = piv + nd;
    double *y = vec, *f0 = y + nn, *atol_i = f0 + nn, *rre = atol_i + nn, *ytmp = rre + nn;
    double *ftmp = ytmp + nn, *dz = ftmp + nn, *err_v = dz + nn, *scal = err_v + nn;
    double *y_old = scal + nn, *f_row = y_old + nn;
    double *Z = f_row + nn, *W = Z + 3 * nn, *F = W + 3 * nn, *Q = F + 3 * nn;
    double *rcd = malloc(sizeof(double) * nn * 4);
    if (!rcd) {
        free(J); free(E1); free(E2); free(jv); free(piv); free(vec); free(rc);
        free(luv1); free(luw1); free(luv2); free(luw2);
        return SG_NO_MEMORY;
    }
    for (size_t i = 0; i < 3 * nn; i++) Z[i] = W[i] = Q[i] = 0.0;
    if (sg_start_outputs(&o, t0, tf, y0, y, n, t_eval, k_eval, dense, 4 * n, stats) != 0) {
        free(J); free(E1); free(E2); free(jv); free(piv); free(vec); free(rc); free(rcd);
        free(luv1); free(luw1); free(luv2); free(luw2);
        return SG_NO_MEMORY;
    }
    double t = o.t, direction = o.direction, span = o.span;
    int64_t status = SG_SUCCESS;

    if (n > 0) {
        rhs(t, y, p, f0);
        stats[SG_ST_NFEV] += 1;
        if (!sg_all_finite(f0, n)) {
            status = SG_NONFINITE;
            span = 0.0;
        }
    }
    /* tolerances (RADAU5 convention) */
    double rtol_u = sg_max(rtol, 100.0 * SG_EPS);
    double rtol_i = 0.1 * pow(rtol_u, 2.0 / 3.0);
    for (int64_t i = 0; i < n; i++) atol_i[i] = atol[i] * (rtol_i / rtol_u);
    double fnewt = sg_max(10.0 * SG_EPS / rtol_i, sg_min(0.03, sqrt(rtol_i)));
    double cfac = SAFE * (1.0 + 2.0 * NIT);
    double hmax_ = hmax <= 0.0 ? span : sg_min(fabs(hmax), span);

    double h;
    if (span > 0.0) {
        if (h0 != 0.0)
            h = sg_min(fabs(h0), hmax_);
        else {
            h = initial_step(rhs, t0, y, f0, p, direction, rtol, atol, hmax_, 3, n, scal, ytmp, ftmp);
            stats[SG_ST_NFEV] += 1;
        }
        h = h * direction;
    } else {
        h = 0.0;
    }
    int last = 0;
    if (span > 0.0 && (t + 1.01 * h - tf) * direction >= 0.0) {
        h = tf - t;
        last = 1;
    }
    for (int64_t i = 0; i < n; i++) scal[i] = atol_i[i] + rtol_i * fabs(y[i]);

    int need_jac = 1, need_lu = 1, jac_current = 0, first = 1, reject = 0;
    double faccon = 1.0;
    int large = n >= LARGE_N;
    double thet = large ? THET_LARGE : THET;
    double quot1 = large ? QUOT1_LARGE : QUOT1;
    double quot2 = large ? QUOT2_LARGE : QUOT2;
    double theta = thet, hacc = h, erracc = 1e-2, hold = h;
    int64_t n_acc = 0, n_sing = 0;
    int fail_reason = FAIL_NONE;
    double fac1 = 0.0, alphn = 0.0, betan = 0.0;
#define AT(M, s, i) M[(s) * nn + (i)]

    while (span > 0.0) {
        if (stats[SG_ST_STEPS] >= max_steps) {
            status = SG_MAX_STEPS;
            break;
        }
        if (h == 0.0 || 0.1 * fabs(h) <= fabs(t) * SG_EPS) {
            status = underflow_status(fail_reason);
            break;
        }
        stats[SG_ST_STEPS] += 1;

        /* Jacobian and Newton matrices */
        if (need_jac) {
            int jfinite;
            if (sparse) {
                jacv(t, y, p, jv);
                jfinite = sg_all_finite(jv, njv);
            } else if (from_values) {
                jacv(t, y, p, jv);
                jfinite = sg_all_finite(jv, nnz);
                for (size_t i = 0; i < nn * nn; i++) J[i] = 0.0;
                for (int64_t i = 0; i < n; i++)
                    for (int64_t kk = indptr[i]; kk < indptr[i + 1]; kk++) J[i * n + indices[kk]] = jv[kk];
            } else {
                jac(t, y, p, J);
                jfinite = sg_all_finite(J, n * n);
            }
            stats[SG_ST_NJEV] += 1;
            if (!jfinite) {
                status = SG_NONFINITE;
                break;
            }
            jac_current = 1;
            need_jac = 0;
            need_lu = 1;
        }
        if (need_lu) {
            fac1 = RADAU_GAMMA / h;
            alphn = RADAU_ALPHA / h;
            betan = RADAU_BETA / h;
            int64_t ier;
            if (sparse) {
                cplx ab = {alphn, betan};
                stats[SG_ST_NLU] += 1;
                ier = sparse_factor_real(plan, jv, fac1, luv1, luw1);
                if (ier == 0) {
                    stats[SG_ST_NLU] += 1;
                    ier = sparse_factor_complex(plan, jv, ab, luv2, luw2);
                }
            } else {
            for (int64_t i = 0; i < n; i++) {
                for (int64_t j = 0; j < n; j++) {
                    E1[i * n + j] = -J[i * n + j];
                    E2[i * n + j].re = -J[i * n + j];
                    E2[i * n + j].im = 0.0;
                }
                E1[i * n + i] += fac1;
                E2[i * n + i].re += alphn;
                E2[i * n + i].im += betan;
            }
            stats[SG_ST_NLU] += 1;
            ier = lu_factor_real(E1, piv1, n);
            if (ier == 0) {
                stats[SG_ST_NLU] += 1;
                ier = lu_factor_complex(E2, piv2, n);
            }
            }
            need_lu = 0;
            if (ier != 0) {
                n_sing += 1;
                fail_reason = FAIL_SINGULAR;
                if (n_sing >= MAX_SINGULAR) {
                    status = SG_SINGULAR;
                    break;
                }
                h *= 0.5;
                reject = 1;
                last = 0;
                need_lu = 1;
                if (!jac_current) need_jac = 1;
                continue;
            }
        }

        /* starting values for Newton from the last collocation polynomial */
        if (first) {
            for (int s = 0; s < 3; s++)
                for (int64_t i = 0; i < n; i++) {
                    AT(Z, s, i) = 0.0;
                    AT(W, s, i) = 0.0;
                }
        } else {
            double r = h / hold;
            for (int s = 0; s < 3; s++) {
                double cs = s == 0 ? RADAU_C1 : (s == 1 ? RADAU_C2 : 1.0);
                double th = 1.0 + cs * r;
                double th2 = th * th;
                double th3 = th2 * th;
                for (int64_t i = 0; i < n; i++)
                    AT(Z, s, i) = AT(Q, 0, i) * (th - 1.0) + AT(Q, 1, i) * (th2 - 1.0) + AT(Q, 2, i) * (th3 - 1.0);
            }
            for (int64_t i = 0; i < n; i++) {
                double z1 = AT(Z, 0, i), z2 = AT(Z, 1, i), z3 = AT(Z, 2, i);
                AT(W, 0, i) = RADAU_TI11 * z1 + RADAU_TI12 * z2 + RADAU_TI13 * z3;
                AT(W, 1, i) = RADAU_TI21 * z1 + RADAU_TI22 * z2 + RADAU_TI23 * z3;
                AT(W, 2, i) = RADAU_TI31 * z1 + RADAU_TI32 * z2 + RADAU_TI33 * z3;
            }
        }

        /* simplified Newton iteration */
        faccon = pow(sg_max(faccon, SG_EPS), 0.8);
        theta = thet;
        int64_t newt = 0;
        double dynold = 0.0, thqold = 0.0, hhfac = 0.5;
        int nfail = FAIL_NONE;
        for (;;) {
            if (newt >= NIT) {
                nfail = FAIL_NEWTON;
                break;
            }
            int finite = 1;
            for (int s = 0; s < 3; s++) {
                double cs = s == 0 ? RADAU_C1 : (s == 1 ? RADAU_C2 : 1.0);
                for (int64_t i = 0; i < n; i++) ytmp[i] = y[i] + AT(Z, s, i);
                rhs(t + cs * h, ytmp, p, f_row);
                stats[SG_ST_NFEV] += 1;
                for (int64_t i = 0; i < n; i++) {
                    double v = f_row[i];
                    if (!isfinite(v)) finite = 0;
                    AT(F, s, i) = v;
                }
                if (!finite) break;
            }
            if (!finite) {
                nfail = FAIL_NONFINITE;
                break;
            }
            for (int64_t i = 0; i < n; i++) {
                double a1 = AT(F, 0, i), a2 = AT(F, 1, i), a3 = AT(F, 2, i);
                double w1 = AT(W, 0, i), w2 = AT(W, 1, i), w3 = AT(W, 2, i);
                rre[i] = RADAU_TI11 * a1 + RADAU_TI12 * a2 + RADAU_TI13 * a3 - fac1 * w1;
                rc[i].re = RADAU_TI21 * a1 + RADAU_TI22 * a2 + RADAU_TI23 * a3 - (alphn * w2 - betan * w3);
                rc[i].im = RADAU_TI31 * a1 + RADAU_TI32 * a2 + RADAU_TI33 * a3 - (betan * w2 + alphn * w3);
            }
            if (sparse) {
                sparse_solve_real(plan, luv1, rre, luw1);
                sparse_solve_complex(plan, luv2, rc, luw2);
            } else {
                lu_solve_real(E1, piv1, rre, n);
                lu_solve_complex(E2, piv2, rc, n);
            }
            stats[SG_ST_NSOLVE] += 2;
            stats[SG_ST_NNEWTON] += 1;
            newt += 1;
            double acc = 0.0;
            for (int64_t i = 0; i < n; i++) {
                double si = scal[i];
                double d1 = rre[i] / si, d2 = rc[i].re / si, d3 = rc[i].im / si;
                acc += d1 * d1 + d2 * d2 + d3 * d3;
            }
            double dyno = sqrt(acc / (double)(3 * n));
            if (!isfinite(dyno)) {
                nfail = FAIL_NONFINITE;
                break;
            }
            if (newt > 1 && newt < NIT) {
                double thq = dyno / dynold;
                if (newt == 2)
                    theta = thq;
                else
                    theta = sqrt(thq * thqold);
                thqold = thq;
                if (theta < 0.99) {
                    faccon = theta / (1.0 - theta);
                    double dyth = faccon * dyno * sg_ipow(theta, NIT - 1 - newt) / fnewt;
                    if (dyth >= 1.0) {
                        double qnewt = sg_max(1e-4, sg_min(20.0, dyth));
                        hhfac = 0.8 * pow(qnewt, -1.0 / (4.0 + NIT - 1 - newt));
                        nfail = FAIL_NEWTON;
                        break;
                    }
                } else {
                    nfail = FAIL_NEWTON;
                    hhfac = 0.5;
                    break;
                }
            }
            dynold = sg_max(dyno, SG_EPS);
            for (int64_t i = 0; i < n; i++) {
                double w1 = AT(W, 0, i) + rre[i];
                double w2 = AT(W, 1, i) + rc[i].re;
                double w3 = AT(W, 2, i) + rc[i].im;
                AT(W, 0, i) = w1;
                AT(W, 1, i) = w2;
                AT(W, 2, i) = w3;
                AT(Z, 0, i) = RADAU_T11 * w1 + RADAU_T12 * w2 + RADAU_T13 * w3;
                AT(Z, 1, i) = RADAU_T21 * w1 + RADAU_T22 * w2 + RADAU_T23 * w3;
                AT(Z, 2, i) = RADAU_T31 * w1 + RADAU_T32 * w2 + RADAU_T33 * w3;
            }
            if (faccon * dyno <= fnewt) break;
        }

        if (nfail != FAIL_NONE) {
            fail_reason = nfail;
            h *= hhfac;
            reject = 1;
            last = 0;
            need_lu = 1;
            if (!jac_current) need_jac = 1;
            continue;
        }

        /* error estimate */
        double hinv = 1.0 / h;
        for (int64_t i = 0; i < n; i++) {
            dz[i] = (RADAU_DD1 * AT(Z, 0, i) + RADAU_DD2 * AT(Z, 1, i) + RADAU_DD3 * AT(Z, 2, i)) * hinv;
            err_v[i] = f0[i] + dz[i];
        }
        if (sparse)
            sparse_solve_real(plan, luv1, err_v, luw1);
        else
            lu_solve_real(E1, piv1, err_v, n);
        stats[SG_ST_NSOLVE] += 1;
        double err = sg_max(wrms(err_v, scal, n), 1e-10);
        if (err >= 1.0 && (first || reject)) {
            for (int64_t i = 0; i < n; i++) ytmp[i] = y[i] + err_v[i];
            rhs(t, ytmp, p, ftmp);
            stats[SG_ST_NFEV] += 1;
            if (sg_all_finite(ftmp, n)) {
                for (int64_t i = 0; i < n; i++) err_v[i] = ftmp[i] + dz[i];
                if (sparse)
                    sparse_solve_real(plan, luv1, err_v, luw1);
                else
                    lu_solve_real(E1, piv1, err_v, n);
                stats[SG_ST_NSOLVE] += 1;
                double err2 = wrms(err_v, scal, n);
                if (isfinite(err2)) err = sg_max(err2, 1e-10);
            }
        }
        if (!isfinite(err)) {
            fail_reason = FAIL_NONFINITE;
            h *= 0.5;
            reject = 1;
            last = 0;
            need_lu = 1;
            if (!jac_current) need_jac = 1;
            continue;
        }

        /* new step size */
        double fac = sg_min(SAFE, cfac / (double)(newt + 2 * NIT));
        double quot = sg_max(FACR, sg_min(FACL, pow(err, 0.25) / fac));
        double hnew = h / quot;

        if (err < 1.0) {
            /* accepted */
            first = 0;
            n_acc += 1;
            stats[SG_ST_ACCEPTED] += 1;
            if (n_acc > 1) {
                double facgus = (hacc / h) * pow(err * err / erracc, 0.25) / SAFE;
                facgus = sg_max(FACR, sg_min(FACL, facgus));
                quot = sg_max(quot, facgus);
                hnew = h / quot;
            }
            hacc = h;
            erracc = sg_max(1e-2, err);

            double t_old = t;
            hold = h;
            t = last ? tf : t + h;
            for (int64_t i = 0; i < n; i++) {
                y_old[i] = y[i];
                y[i] += AT(Z, 2, i);
            }
            for (int64_t i = 0; i < n; i++) {
                double z1 = AT(Z, 0, i), z2 = AT(Z, 1, i), z3 = AT(Z, 2, i);
                AT(Q, 0, i) = RADAU_P11 * z1 + RADAU_P12 * z2 + RADAU_P13 * z3;
                AT(Q, 1, i) = RADAU_P21 * z1 + RADAU_P22 * z2 + RADAU_P23 * z3;
                AT(Q, 2, i) = RADAU_P31 * z1 + RADAU_P32 * z2 + RADAU_P33 * z3;
            }
            if (dense)
                for (int64_t i = 0; i < n; i++) {
                    rcd[i] = y_old[i];
                    rcd[n + i] = AT(Q, 0, i);
                    rcd[2 * n + i] = AT(Q, 1, i);
                    rcd[3 * n + i] = AT(Q, 2, i);
                }
            if (sg_store_step(&o, t, y, rcd) != 0) {
                status = SG_NO_MEMORY;
                break;
            }

            /* t_eval points inside (t_old, t] */
            while (o.n_eval < k_eval && (t_eval[o.n_eval] - t) * direction <= 0.0) {
                double te = t_eval[o.n_eval];
                double *row = o.yeval + o.n_eval * n;
                if (te == t) {
                    for (int64_t i = 0; i < n; i++) row[i] = y[i];
                } else {
                    double sq = (te - t_old) / hold;
                    for (int64_t i = 0; i < n; i++)
                        row[i] = y_old[i] + sq * (AT(Q, 0, i) + sq * (AT(Q, 1, i) + sq * AT(Q, 2, i)));
                }
                o.n_eval++;
            }

            for (int64_t i = 0; i < n; i++) scal[i] = atol_i[i] + rtol_i * fabs(y[i]);
            jac_current = 0;
            n_sing = 0;
            fail_reason = FAIL_NONE;
            if (last) {
                status = SG_SUCCESS;
                break;
            }
            rhs(t, y, p, f0);
            stats[SG_ST_NFEV] += 1;
            if (!sg_all_finite(f0, n)) {
                status = SG_NONFINITE;
                break;
            }
            hnew = direction * sg_min(fabs(hnew), hmax_);
            if (reject) hnew = direction * sg_min(fabs(hnew), fabs(h));
            reject = 0;
            if ((t + 1.01 * hnew - tf) * direction >= 0.0) {
                h = tf - t;
                last = 1;
            } else {
                double qt = hnew / h;
                if (theta <= thet && qt >= quot1 && qt <= quot2) continue;
                h = hnew;
            }
            if (theta <= thet)
                need_lu = 1;
            else
                need_jac = 1;
        } else {
            /* rejected by the error test */
            fail_reason = FAIL_ERROR;
            reject = 1;
            last = 0;
            if (first)
                h *= 0.1;
            else
                h = hnew;
            need_lu = 1;
            if (!jac_current) need_jac = 1;
        }
    }
#undef AT
    free(J); free(E1); free(E2); free(jv); free(piv); free(vec); free(rc); free(rcd);
    free(luv1); free(luw1); free(luv2); free(luw2);
    if (status == SG_NO_MEMORY) {
        sg_free_outputs(&o);
        return SG_NO_MEMORY;
    }
    stats[SG_ST_REJECTED] = stats[SG_ST_STEPS] - stats[SG_ST_ACCEPTED];
    sg_finish_outputs(&o, status, t, stats, 4, res);
    return status;
}
