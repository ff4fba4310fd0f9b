/* symgen native runtime: the explicit (Dormand-Prince 5(4)) and stiff (Radau IIA order 5,
 * dense LU) ODE steppers of symgen.drivers, ported operation by operation to C so that an
 * exported model reproduces symgen's in-process solution.
 *
 * Part of the symgen package (scaffolding copied verbatim into every export).
 */
#ifndef SYMGEN_RT_H
#define SYMGEN_RT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every model kernel: out = f(t, y, p); the arrays never overlap. */
typedef void (*sg_kernel)(double t, const double *y, const double *p, double *out);

/* status codes (symgen.drivers.common) */
#define SG_SUCCESS 0         /* reached the end of the time span */
#define SG_MAX_STEPS 1       /* gave up after max_steps steps */
#define SG_STEP_UNDERFLOW 2  /* step size fell below the resolution of t */
#define SG_NONFINITE 3       /* NaN/Inf in the right-hand side or Jacobian */
#define SG_STIFF_DETECTED 4  /* explicit method stopped: the problem looks stiff */
#define SG_NEWTON_FAILED 5   /* Newton iteration failed at the smallest step size */
#define SG_SINGULAR 6        /* Newton matrix singular repeatedly */
#define SG_NO_MEMORY (-1)    /* an allocation failed (no result) */
#define SG_BAD_ARGUMENT (-2) /* invalid arguments (no result) */

/* layout of sg_result.stats */
#define SG_ST_STEPS 0
#define SG_ST_ACCEPTED 1
#define SG_ST_REJECTED 2
#define SG_ST_NFEV 3
#define SG_ST_NJEV 4
#define SG_ST_NLU 5
#define SG_ST_NNEWTON 6
#define SG_ST_NSOLVE 7
#define SG_N_STATS 8

/* What a stepper returns; free the arrays with sg_result_free. */
typedef struct sg_result {
    int64_t status;
    double t_reached;            /* time of the last accepted step */
    int64_t stats[SG_N_STATS];
    int64_t n;                   /* number of states */
    int64_t m;                   /* accepted points, t0 included */
    int64_t k;                   /* dense-output coefficients per step and state (5 or 4) */
    int64_t n_eval;              /* rows of yeval filled */
    double *ts;                  /* [m] accepted times */
    double *ys;                  /* [m][n] states at ts */
    double *coeffs;              /* [m-1][k][n] dense output (NULL unless dense) */
    double *yeval;               /* [k_eval][n] solution at t_eval (NaN where not reached) */
} sg_result;

/* Integrate y' = rhs(t, y, p) from t0 to tf with Dormand-Prince 5(4).
 * atol has n entries; t_eval (k_eval points, may be NULL when k_eval == 0) is sorted in
 * the direction of integration; h0 = 0: automatic first step; hmax = 0: |tf - t0|.
 * Returns the status (also in res->status); negative: no result was produced. */
int64_t sg_dopri5(sg_kernel rhs, int64_t n, double t0, double tf, const double *y0,
                  const double *p, double rtol, const double *atol, double h0, double hmax,
                  int64_t max_steps, const double *t_eval, int64_t k_eval, int dense,
                  int detect_stiff, sg_result *res);

/* Static-pattern sparse LU plan of the Newton matrices (symgen.drivers.sparse_lu):
 * fill-reducing permutation, CSR pattern of L\U, diagonal slots, and the slot of each
 * Jacobian value (amap[nnz_j]). */
typedef struct sg_sparse_plan {
    int64_t n, nnz_lu, nnz_j;
    const uint32_t *perm, *indptr, *indices, *diag, *amap;
} sg_sparse_plan;

/* Integrate with Radau IIA (order 5).  With plan == NULL: dense LU with partial pivoting,
 * the Jacobian being the dense kernel jac (row-major n x n) when indptr is NULL, else the
 * values kernel jacv on the CSR pattern (indptr[n+1], indices[nnz]) scattered into a
 * dense matrix.  With a plan: the static-pattern sparse LU, Jacobian values from jacv. */
int64_t sg_radau5(sg_kernel rhs, sg_kernel jac, sg_kernel jacv, int64_t nnz,
                  const int64_t *indptr, const int64_t *indices, const sg_sparse_plan *plan,
                  int64_t n, double t0,
                  double tf, const double *y0, const double *p, double rtol,
                  const double *atol, double h0, double hmax, int64_t max_steps,
                  const double *t_eval, int64_t k_eval, int dense, sg_result *res);

/* Free the arrays of a result (the struct itself is the caller's). */
void sg_result_free(sg_result *res);

/* Text of a status code. */
const char *sg_status_message(int64_t status);

#ifdef __cplusplus
}
#endif
#endif
