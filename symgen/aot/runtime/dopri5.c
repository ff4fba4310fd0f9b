/* symgen native runtime: Dormand-Prince 5(4) with PI step control, HINIT starting step,
 * stiffness detection and dense output -- a line-by-line port of
 * symgen/drivers/dopri5.py (same operations in the same order, same defaults and status
 * codes); see that module for the method and its references. */
#include "rt_internal.h"

static const double C_[7] = {0.0, 1.0 / 5.0, 3.0 / 10.0, 4.0 / 5.0, 8.0 / 9.0, 1.0, 1.0};
static const double A_[7][7] = {
    {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0},
    {1.0 / 5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0},
    {3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0, 0.0, 0.0},
    {44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0, 0.0, 0.0},
    {19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0, 0.0, 0.0, 0.0},
    {9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0, 0.0, 0.0},
    {35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0, 0.0},
};
static const double E_[7] = {71.0 / 57600.0, 0.0, -71.0 / 16695.0, 71.0 / 1920.0,
                             -17253.0 / 339200.0, 22.0 / 525.0, -1.0 / 40.0};
static const double D_[7] = {-12715105075.0 / 11282082432.0, 0.0, 87487479700.0 / 32700410799.0,
                             -10690763975.0 / 1880347072.0, 701980252875.0 / 199316789632.0,
                             -1453857185.0 / 822651844.0, 69997945.0 / 29380423.0};

#define SAFE 0.9
#define BETA 0.04
#define EXPO1 (0.2 - 0.75 * BETA)
#define FACMIN 0.2
#define FACMAX 10.0
#define STIFF_HLAMB 2.0
#define STIFF_HITS 15
#define STIFF_RESET 6

static double initial_step(sg_kernel rhs, double t0, const double *y0, const double *f0,
                           const double *p, double direction, double rtol, const double *atol,
                           double hmax, double *f1, double *y1, int64_t n) {
    double dnf = 0.0, dny = 0.0, h;
    for (int64_t i = 0; i < n; i++) {
        double sk = atol[i] + rtol * fabs(y0[i]);
        if (sk > 0.0) {
            double a = f0[i] / sk, b = y0[i] / sk;
            dnf += a * a;
            dny += b * b;
        }
    }
    dnf /= (double)n;
    dny /= (double)n;
    if (dnf <= 1e-10 || dny <= 1e-10)
        h = 1e-6;
    else
        h = 0.01 * sqrt(dny / dnf);
    h = sg_min(h, hmax);
    for (int64_t i = 0; i < n; i++) y1[i] = y0[i] + direction * h * f0[i];
    rhs(t0 + direction * h, y1, p, f1);
    double der2 = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double sk = atol[i] + rtol * fabs(y0[i]);
        if (sk > 0.0) {
            double a = (f1[i] - f0[i]) / sk;
            der2 += a * a;
        }
    }
    der2 = sqrt(der2 / (double)n) / h;
    if (!isfinite(der2)) return h;
    double der12 = sg_max(der2, sqrt(dnf)), h1;
    if (der12 <= 1e-15)
        h1 = sg_max(1e-6, h * 1e-3);
    else
        h1 = pow(0.01 / der12, 0.2);
    return sg_min(sg_min(100.0 * h, h1), hmax);
}

int64_t sg_dopri5(sg_kernel rhs, int64_t n, double t0, double tf, const double *y0,
                  const double *p, double rtol, const double *atol, double h0, double hmax,
                  int64_t max_steps, const double *t_eval, int64_t k_eval, int dense,
                  int detect_stiff, sg_result *res) {
    int64_t stats[SG_N_STATS] = {0};
    sg_outputs o;
    if (!res || n < 0 || k_eval < 0 || (n > 0 && (!y0 || !atol)) || (k_eval > 0 && !t_eval))
        return SG_BAD_ARGUMENT;
    size_t nn = (size_t)(n > 0 ? n : 1);
    double *work = malloc(sizeof(double) * nn * (7 + 4 + 5));
    if (!work) return SG_NO_MEMORY;
    double *K = work, *y = work + 7 * nn, *ytmp = y + nn, *ynew = ytmp + nn, *y6 = ynew + nn;
    double *rc = y6 + nn;
    if (sg_start_outputs(&o, t0, tf, y0, y, n, t_eval, k_eval, dense, 5 * n, stats) != 0) {
        free(work);
        return SG_NO_MEMORY;
    }
    for (size_t i = 0; i < 7 * nn; i++) K[i] = 0.0;
    double t = o.t, direction = o.direction, span = o.span;
    int64_t status = SG_SUCCESS;
#define KK(s, i) K[(s) * nn + (i)]

    if (span > 0.0) {
        rhs(t, y, p, &KK(0, 0));
        stats[SG_ST_NFEV] += 1;
        if (!sg_all_finite(&KK(0, 0), n)) {
            status = SG_NONFINITE;
            span = 0.0;
        }
    }
    double hmax_ = hmax == 0.0 ? span : sg_min(fabs(hmax), span);
    double h = 0.0;
    int last = 0;
    if (span > 0.0) {
        if (h0 != 0.0)
            h = sg_min(fabs(h0), hmax_);
        else {
            h = initial_step(rhs, t, y, &KK(0, 0), p, direction, rtol, atol, hmax_, ynew, ytmp, n);
            stats[SG_ST_NFEV] += 1;
        }
        h *= direction;
        if ((t + 1.01 * h - tf) * direction >= 0.0) {
            h = tf - t;
            last = 1;
        }
    }
    double facold = 1e-4;
    int reject = 0, fail_nonfinite = 0;
    int64_t n_hits = 0, n_calm = 0;

    while (span > 0.0) {
        if (stats[SG_ST_STEPS] >= max_steps) {
            status = SG_MAX_STEPS;
            break;
        }
        if (h == 0.0 || 0.1 * fabs(h) <= fabs(t) * SG_EPS) {
            status = fail_nonfinite ? SG_NONFINITE : SG_STEP_UNDERFLOW;
            break;
        }
        stats[SG_ST_STEPS] += 1;
        double tnew = last ? tf : t + h;

        /* stages 2..7 (stage 7 is evaluated at ynew) */
        int finite = 1;
        for (int s = 1; s < 7; s++) {
            for (int64_t i = 0; i < n; i++) {
                double acc = 0.0;
                for (int j = 0; j < s; j++) acc += A_[s][j] * KK(j, i);
                ytmp[i] = y[i] + h * acc;
            }
            if (s == 5) {
                for (int64_t i = 0; i < n; i++) y6[i] = ytmp[i];
            } else if (s == 6) {
                for (int64_t i = 0; i < n; i++) ynew[i] = ytmp[i];
                if (!sg_all_finite(ynew, n)) {
                    finite = 0;
                    break;
                }
            }
            rhs(s == 6 ? tnew : t + C_[s] * h, ytmp, p, &KK(s, 0));
            stats[SG_ST_NFEV] += 1;
            if (!sg_all_finite(&KK(s, 0), n)) {
                finite = 0;
                break;
            }
        }

        /* error estimate */
        double err = INFINITY;
        if (finite) {
            double acc = 0.0;
            for (int64_t i = 0; i < n; i++) {
                double e = 0.0;
                for (int j = 0; j < 7; j++) e += E_[j] * KK(j, i);
                e *= h;
                double sk = atol[i] + rtol * sg_max(fabs(y[i]), fabs(ynew[i]));
                if (sk > 0.0) {
                    double r = e / sk;
                    acc += r * r;
                } else if (e != 0.0) {
                    acc = INFINITY;
                }
            }
            err = sqrt(acc / (double)n);
        }
        if (!finite || isnan(err)) {
            fail_nonfinite = 1;
            h *= 0.1;
            reject = 1;
            last = 0;
            continue;
        }

        double fac11 = pow(err, EXPO1);
        if (err <= 1.0) {
            /* accepted */
            double fac = fac11 / pow(facold, BETA);
            fac = sg_max(1.0 / FACMAX, sg_min(1.0 / FACMIN, fac / SAFE));
            double hnew = h / fac;
            facold = sg_max(err, 1e-4);
            stats[SG_ST_ACCEPTED] += 1;
            fail_nonfinite = 0;

            int stiff = 0;
            if (detect_stiff) {
                double stnum = 0.0, stden = 0.0;
                for (int64_t i = 0; i < n; i++) {
                    double a = KK(6, i) - KK(5, i), b = ynew[i] - y6[i];
                    stnum += a * a;
                    stden += b * b;
                }
                if (stden > 0.0) {
                    if (fabs(h) * sqrt(stnum / stden) > STIFF_HLAMB) {
                        n_calm = 0;
                        n_hits += 1;
                        stiff = n_hits >= STIFF_HITS;
                    } else {
                        n_calm += 1;
                        if (n_calm == STIFF_RESET) n_hits = 0;
                    }
                }
            }

            double t_old = t;
            t = tnew;
            if (dense || o.n_eval < k_eval) {
                for (int64_t i = 0; i < n; i++) {
                    double d5 = 0.0;
                    for (int j = 0; j < 7; j++) d5 += D_[j] * KK(j, i);
                    double r2 = ynew[i] - y[i];
                    double r3 = h * KK(0, i) - r2;
                    rc[i] = y[i];
                    rc[n + i] = r2;
                    rc[2 * n + i] = r3;
                    rc[3 * n + i] = r2 - h * KK(6, i) - r3;
                    rc[4 * n + i] = h * d5;
                }
            }
            for (int64_t i = 0; i < n; i++) {
                y[i] = ynew[i];
                KK(0, i) = KK(6, i);
            }
            if (sg_store_step(&o, t, y, rc) != 0) {
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
                    double sq = (te - t_old) / (t - t_old);
                    double s1 = 1.0 - sq;
                    for (int64_t i = 0; i < n; i++)
                        row[i] = rc[i] + sq * (rc[n + i] + s1 * (rc[2 * n + i] +
                                 sq * (rc[3 * n + i] + s1 * rc[4 * n + i])));
                }
                o.n_eval++;
            }

            if (last) {
                status = SG_SUCCESS;
                break;
            }
            if (stiff) {
                status = SG_STIFF_DETECTED;
                break;
            }
            hnew = direction * sg_min(fabs(hnew), hmax_);
            if (reject) hnew = direction * sg_min(fabs(hnew), fabs(h));
            reject = 0;
            if ((t + 1.01 * hnew - tf) * direction >= 0.0) {
                if (fabs(tf - t) <= hmax_) {
                    h = tf - t;
                    last = 1;
                } else {
                    h = 0.5 * (tf - t);
                }
            } else {
                h = hnew;
            }
        } else {
            /* rejected by the error test */
            fail_nonfinite = 0;
            h = h / sg_min(1.0 / FACMIN, fac11 / SAFE);
            reject = 1;
            last = 0;
        }
    }
#undef KK
    free(work);
    if (status == SG_NO_MEMORY) {
        sg_free_outputs(&o);
        return SG_NO_MEMORY;
    }
    stats[SG_ST_REJECTED] = stats[SG_ST_STEPS] - stats[SG_ST_ACCEPTED];
    sg_finish_outputs(&o, status, t, stats, 5, res);
    return status;
}
