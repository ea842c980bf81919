// Head mixing of DCMHA scores on the CPU, forward and backward, for torch_dcmha._DCMHA.
//
// Shapes: x, y, grad_y (B, H, Tq, S) contiguous, one query block: its queries at the last Tq of its S
// keys. aq (B, H, G, Lq) and ak (B, H, G, Lk) are the mixing matrices of mixing.build_mixing over the
// whole sequence (H source head, G = H target head); the block's query rows start at position q_off of
// aq and its keys at k_off of ak, so no block needs a copy of its slice. An empty tensor stands for a
// side that is absent. Mixing: y[g] = sum_h x[h] (aq[h, g, q_off + t] + ak[h, g, k_off + s]).
// Each (b, t) row touches only the keys its mask keeps (causal: s <= position; window w: s > position
// - w); masked entries are written as `masked` (forward) or 0 (backward) and contribute nothing.
//
// The forward adds the terms in the order of torch_dcmha._mix (per source head: query side, then key
// side) and rounds as torch's addcmul does: a fused multiply-add where torch's kernels use one (built
// with -mfma on AVX2 machines, see compose_cpu.py), else a product then a sum (-ffp-contract=off);
// so it gives the same bits as the torch ops. The backward makes one pass per row instead of about
// 3H tensor-wide ops. Both work on 32-byte vectors of keys and hold the sums of up to four target
// heads in registers while each source head's row is read once (the H^2 passes over a row that
// memory-bound loops would make cost twice the time at cpu-demo).
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>
#if defined(__FMA__)
#include <immintrin.h>
#endif

#if defined(__FMA__)
#define MADD(a, b, c) std::fma((a), (b), (c))
#else
#define MADD(a, b, c) ((c) + (a) * (b))
#endif

namespace {

struct Dims {
  int64_t B, H, Tq, S;
  bool causal;
  int64_t window;  // < 0: no window
  int64_t aq_len, aq_off, ak_len, ak_off;  // positions of aq / ak and where this block starts in them
  // aq[b, h, g, q_off + t] and the row ak[b, h, g, k_off:]
  int64_t aq_at(int64_t b, int64_t h, int64_t g, int64_t t) const {
    return ((b * H + h) * H + g) * aq_len + aq_off + t;
  }
  int64_t ak_row(int64_t b, int64_t h, int64_t g) const { return ((b * H + h) * H + g) * ak_len + ak_off; }
  // The keys [lo, hi) that query row t keeps.
  void keys(int64_t t, int64_t& lo, int64_t& hi) const {
    const int64_t pos = S - Tq + t;
    hi = causal ? std::min(S, pos + 1) : S;
    lo = window >= 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
    hi = std::max<int64_t>(hi, 0);
    lo = std::min(lo, hi);
  }
};

// One 32-byte vector of T (GCC/Clang vector extension): 8 floats or 4 doubles, one AVX2 register
// where the build has -mavx2, two SSE (or NEON) registers otherwise.
template <typename T>
struct Lanes {
  typedef T V __attribute__((vector_size(32)));
  static constexpr int64_t W = 32 / sizeof(T);
  static V load(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static void store(T* p, V v) { std::memcpy(p, &v, sizeof v); }
  static V splat(T x) { return V{} + x; }
  static T sum(V v) {
    T total = 0;
    for (int64_t j = 0; j < W; ++j) total += v[j];
    return total;
  }
};

// a * b + c per lane, rounded as MADD rounds it (so as the torch ops do).
template <typename V>
inline V vmadd(V a, V b, V c) {
#if defined(__FMA__)
  if constexpr (sizeof(a[0]) == 4)
    return (V)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
  else
    return (V)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
#else
  return c + a * b;
#endif
}

// Target heads whose sums a key chunk holds in registers together.
constexpr int64_t GROUP = 4;
constexpr int64_t MAX_HEADS = 128;   // per-row weight tables live on the stack

// f(NG) with NG = n (1 to GROUP) as a compile-time constant, so that NG register sums can be unrolled.
template <typename F>
void with_group_size(int64_t n, F&& f) {
  switch (n) {
    case 4: f(std::integral_constant<int, 4>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    default: f(std::integral_constant<int, 1>{}); break;
  }
}

// y[g0 + i, lo:hi] for one row and NG target heads: per key chunk, the NG sums stay in registers
// while every source head's scores are read once. Terms in _mix's order (per source head h: query
// side, then key side), the first a product, the rest MADD, so the bits match the torch ops.
// Q, K: whether the query side (aq) and the key side (ak) are present.
template <typename T, int NG, bool Q, bool K>
void mix_heads(const Dims& d, const T* x, const T* aq, const T* ak, T* y, int64_t b, int64_t t,
               int64_t g0, int64_t lo, int64_t hi) {
  using L = Lanes<T>;
  using V = typename L::V;
  const int64_t H = d.H;
  const T* x0 = x + (b * H * d.Tq + t) * d.S;           // source head h's row at x0 + h * hstride
  const int64_t hstride = d.Tq * d.S;
  T wq[MAX_HEADS][NG];                                  // the row's query-side weights
  const T* kr[MAX_HEADS][NG];                           // key-side rows
  for (int64_t h = 0; h < H; ++h)
    for (int i = 0; i < NG; ++i) {
      if (Q) wq[h][i] = aq[d.aq_at(b, h, g0 + i, t)];
      if (K) kr[h][i] = ak + d.ak_row(b, h, g0 + i);
    }
  auto term = [&](auto xv, int64_t h, int i, auto acc, int64_t s, auto load, auto splat, auto madd) {
    if (Q) acc = h == 0 ? xv * splat(wq[h][i]) : madd(xv, splat(wq[h][i]), acc);
    if (K) acc = h == 0 && !Q ? xv * load(kr[h][i] + s) : madd(xv, load(kr[h][i] + s), acc);
    return acc;
  };
  int64_t s = lo;
  for (; s + L::W <= hi; s += L::W) {
    V acc[NG];
    for (int64_t h = 0; h < H; ++h) {
      const V xv = L::load(x0 + h * hstride + s);
      for (int i = 0; i < NG; ++i)
        acc[i] = term(xv, h, i, acc[i], s, L::load, L::splat, vmadd<V>);
    }
    for (int i = 0; i < NG; ++i) L::store(y + ((b * H + g0 + i) * d.Tq + t) * d.S + s, acc[i]);
  }
  auto load1 = [](const T* p) { return *p; };
  auto splat1 = [](T v) { return v; };
  auto madd1 = [](T a, T b_, T c) { return MADD(a, b_, c); };
  for (; s < hi; ++s)                                     // the keys after the last whole chunk
    for (int i = 0; i < NG; ++i) {
      T acc = 0;
      for (int64_t h = 0; h < H; ++h) acc = term(x0[h * hstride + s], h, i, acc, s, load1, splat1, madd1);
      y[((b * H + g0 + i) * d.Tq + t) * d.S + s] = acc;
    }
}

template <typename T, bool Q, bool K>
void mix_groups(const Dims& d, const T* x, const T* aq, const T* ak, T* y, int64_t b, int64_t t,
                int64_t lo, int64_t hi) {
  for (int64_t g0 = 0; g0 < d.H; g0 += GROUP)
    with_group_size(std::min(GROUP, d.H - g0), [&](auto ng) {
      mix_heads<T, decltype(ng)::value, Q, K>(d, x, aq, ak, y, b, t, g0, lo, hi);
    });
}

template <typename T>
void mix_row(const Dims& d, const T* x, const T* aq, const T* ak, T* y, T masked, int64_t b,
             int64_t t) {
  int64_t lo, hi;
  d.keys(t, lo, hi);
  for (int64_t g = 0; g < d.H; ++g) {
    T* out = y + ((b * d.H + g) * d.Tq + t) * d.S;
    std::fill(out, out + lo, masked);
    std::fill(out + hi, out + d.S, masked);
  }
  if (aq != nullptr && ak != nullptr)
    mix_groups<T, true, true>(d, x, aq, ak, y, b, t, lo, hi);
  else if (aq != nullptr)
    mix_groups<T, true, false>(d, x, aq, ak, y, b, t, lo, hi);
  else
    mix_groups<T, false, true>(d, x, aq, ak, y, b, t, lo, hi);
}

// Mixing gradients of one row, source head h (scores xr) and NG target heads (gradient rows gys):
// sums[i] = sum_{lo <= s < hi} xr[s] gys[i][s] (grad aq), and the products added to gaks[i][s]
// (grad ak, when K: the key side is present).
template <typename T, int NG, bool K>
void mixing_grads(const T* xr, const T* const* gys, T* const* gaks, T* sums, int64_t lo,
                  int64_t hi) {
  using L = Lanes<T>;
  using V = typename L::V;
  V lanes[NG];
  T tail[NG];
  for (int i = 0; i < NG; ++i) lanes[i] = L::splat(0), tail[i] = 0;
  int64_t s = lo;
  for (; s + L::W <= hi; s += L::W) {
    const V xv = L::load(xr + s);
    for (int i = 0; i < NG; ++i) {
      const V prod = xv * L::load(gys[i] + s);
      lanes[i] += prod;
      if (K) L::store(gaks[i] + s, L::load(gaks[i] + s) + prod);
    }
  }
  for (; s < hi; ++s)
    for (int i = 0; i < NG; ++i) {
      const T prod = xr[s] * gys[i][s];
      tail[i] += prod;
      if (K) gaks[i][s] += prod;
    }
  for (int i = 0; i < NG; ++i) sums[i] = L::sum(lanes[i]) + tail[i];
}

// o[lo:hi] = sum_g gys[g] (w[g] + krs[g]) (krs null: no key side), the adjoint mixing of one source
// head; returns sum_s pr[s] o[s] (the softmax backward's dot) when pr is given.
template <typename T>
T adjoint_row(const T* const* gys, const T* w, const T* const* krs, const T* pr, T* o,
              int64_t heads, int64_t lo, int64_t hi) {
  using L = Lanes<T>;
  using V = typename L::V;
  V dot = L::splat(0);
  T tail = 0;
  int64_t s = lo;
  for (; s + L::W <= hi; s += L::W) {
    V acc = L::splat(0);
    for (int64_t g = 0; g < heads; ++g) {
      V coef = L::splat(w[g]);
      if (krs != nullptr) coef += L::load(krs[g] + s);
      acc = vmadd(L::load(gys[g] + s), coef, acc);
    }
    L::store(o + s, acc);
    if (pr != nullptr) dot = vmadd(L::load(pr + s), acc, dot);
  }
  for (; s < hi; ++s) {
    T acc = 0;
    for (int64_t g = 0; g < heads; ++g)
      acc += gys[g][s] * (w[g] + (krs != nullptr ? krs[g][s] : T(0)));
    o[s] = acc;
    if (pr != nullptr) tail += pr[s] * acc;
  }
  return L::sum(dot) + tail;
}

// One row of the backward: gradients of aq (written at row q_off + t of gaq, shaped like aq), of ak
// (added into gak[h, g, gak_off + s], rows of gak_len: this chunk's partial sums or, with one chunk
// per batch row, ak's gradient itself), and grad_x = mix^T(grad_y), then, when p is given, the
// softmax backward p * (grad_x - sum_s p grad_x). Writes the row's result over grad_y (rows are
// independent). buf: H * S scratch.
template <typename T>
void mix_backward_row(const Dims& d, const T* x, T* gy, const T* aq, const T* ak, const T* p,
                      T* gaq, T* gak, int64_t gak_len, int64_t gak_off, T* buf, int64_t b,
                      int64_t t) {
  const int64_t H = d.H, Tq = d.Tq, S = d.S;
  int64_t lo, hi;
  d.keys(t, lo, hi);
  auto row = [&](const T* base, int64_t h) { return base + ((b * H + h) * Tq + t) * S; };
  const T* gys[MAX_HEADS];                              // per-head rows and weights of this row
  T* gaks[MAX_HEADS];
  const T* krs[MAX_HEADS];
  T w[MAX_HEADS];
  for (int64_t g = 0; g < H; ++g) gys[g] = row(gy, g);
  if (gaq != nullptr || gak != nullptr) {
    T sums[GROUP];
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t g = 0; g < H; ++g)
        gaks[g] = gak == nullptr ? nullptr : gak + (h * H + g) * gak_len + gak_off;
      for (int64_t g0 = 0; g0 < H; g0 += GROUP) {
        const int64_t n = std::min(GROUP, H - g0);
        with_group_size(n, [&](auto ng) {
          constexpr int NG = decltype(ng)::value;
          if (gak != nullptr)
            mixing_grads<T, NG, true>(row(x, h), gys + g0, gaks + g0, sums, lo, hi);
          else
            mixing_grads<T, NG, false>(row(x, h), gys + g0, nullptr, sums, lo, hi);
        });
        if (gaq != nullptr)
          for (int64_t i = 0; i < n; ++i) gaq[d.aq_at(b, h, g0 + i, t)] = sums[i];
      }
    }
  }
  for (int64_t h = 0; h < H; ++h) {
    T* o = buf + h * S;
    for (int64_t g = 0; g < H; ++g) {
      w[g] = aq != nullptr ? aq[d.aq_at(b, h, g, t)] : T(0);
      krs[g] = ak != nullptr ? ak + d.ak_row(b, h, g) : nullptr;
    }
    const T* pr = p != nullptr ? row(p, h) : nullptr;
    const T c = adjoint_row(gys, w, ak != nullptr ? krs : nullptr, pr, o, H, lo, hi);
    if (pr != nullptr)
      for (int64_t s = lo; s < hi; ++s) o[s] = pr[s] * (o[s] - c);
  }
  for (int64_t h = 0; h < H; ++h) {
    T* out = const_cast<T*>(row(gy, h));
    std::fill(out, out + lo, T(0));
    std::copy(buf + h * S + lo, buf + h * S + hi, out + lo);
    std::fill(out + hi, out + S, T(0));
  }
}

template <typename T>
T* ptr_or_null(const torch::Tensor& m) {
  return m.numel() > 0 ? m.data_ptr<T>() : nullptr;
}

// The block's dimensions, after checking x and the mixing matrices (aq from q_off, ak from k_off).
Dims dims_of(const torch::Tensor& x, const torch::Tensor& aq, const torch::Tensor& ak, int64_t q_off,
             int64_t k_off, bool causal, int64_t window) {
  TORCH_CHECK(x.dim() == 4 && x.is_contiguous() && x.device().is_cpu(),
              "compose_cpu: scores must be a contiguous CPU tensor (B, H, Tq, S)");
  TORCH_CHECK(aq.numel() > 0 || ak.numel() > 0, "compose_cpu: no mixing matrix given");
  TORCH_CHECK(x.size(1) <= MAX_HEADS, "compose_cpu: at most 128 heads");
  const Dims d{x.size(0), x.size(1), x.size(2), x.size(3), causal, window,
               aq.numel() > 0 ? aq.size(3) : 0, q_off, ak.numel() > 0 ? ak.size(3) : 0, k_off};
  auto fits = [&](const torch::Tensor& m, int64_t off, int64_t n) {
    return m.numel() == 0 ||
           (m.is_contiguous() && m.scalar_type() == x.scalar_type() && m.dim() == 4 &&
            m.size(0) == d.B && m.size(1) == d.H && m.size(2) == d.H && off >= 0 &&
            off + n <= m.size(3));
  };
  TORCH_CHECK(fits(aq, q_off, d.Tq) && fits(ak, k_off, d.S),
              "compose_cpu: a mixing matrix must be contiguous (B, H, H, positions) in the scores' "
              "dtype and hold the block's positions");
  return d;
}

}  // namespace

// y = mix(x) with masked entries set to `masked` (-inf before the softmax, 0 after).
torch::Tensor mix_forward(torch::Tensor x, torch::Tensor aq, torch::Tensor ak, int64_t q_off,
                          int64_t k_off, bool causal, int64_t window, double masked) {
  const Dims d = dims_of(x, aq, ak, q_off, k_off, causal, window);
  torch::Tensor y = torch::empty_like(x);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "mix_forward", [&] {
    const scalar_t *xp = x.data_ptr<scalar_t>(), *aqp = ptr_or_null<scalar_t>(aq),
                   *akp = ptr_or_null<scalar_t>(ak);
    scalar_t* yp = y.data_ptr<scalar_t>();
    at::parallel_for(0, d.B * d.Tq, 1, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r)
        mix_row<scalar_t>(d, xp, aqp, akp, yp, static_cast<scalar_t>(masked), r / d.Tq, r % d.Tq);
    });
  });
  return y;
}

// Backward of y = mix(x) (and of the softmax before it when p, the probabilities, is not empty).
// grad_y is overwritten with grad_x (of the logits when p is given). grad_aq (shaped like aq) gets
// the block's rows written; grad_ak (shaped like ak) gets the block's sums added, so a caller zeroes
// it once and runs the blocks in any order. The rows are split into `chunks` per batch row (a count
// fixed by the caller, not by the thread count, so that results do not depend on the threads).
void mix_backward(torch::Tensor x, torch::Tensor grad_y, torch::Tensor aq, torch::Tensor ak,
                  torch::Tensor p, int64_t q_off, int64_t k_off, bool causal, int64_t window,
                  int64_t chunks, torch::Tensor grad_aq, torch::Tensor grad_ak) {
  const Dims d = dims_of(x, aq, ak, q_off, k_off, causal, window);
  TORCH_CHECK(grad_y.sizes() == x.sizes() && grad_y.is_contiguous() &&
                  grad_y.scalar_type() == x.scalar_type(),
              "compose_cpu: grad_y must be contiguous and shaped like the scores");
  TORCH_CHECK(p.numel() == 0 || (p.sizes() == x.sizes() && p.is_contiguous()),
              "compose_cpu: probabilities must be contiguous and shaped like the scores");
  TORCH_CHECK(grad_aq.sizes() == aq.sizes() && grad_aq.is_contiguous() &&
                  grad_ak.sizes() == ak.sizes() && grad_ak.is_contiguous(),
              "compose_cpu: the mixing gradients must be contiguous and shaped like the mixings");
  chunks = std::max<int64_t>(1, std::min(chunks, std::max<int64_t>(d.Tq, 1)));
  // one chunk per batch row adds straight into grad_ak; more need partial sums
  torch::Tensor part = ak.numel() > 0 && chunks > 1
                           ? torch::zeros({d.B, chunks, d.H, d.H, d.S}, x.options())
                           : torch::empty({0}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "mix_backward", [&] {
    const scalar_t *xp = x.data_ptr<scalar_t>(), *aqp = ptr_or_null<scalar_t>(aq),
                   *akp = ptr_or_null<scalar_t>(ak), *pp = ptr_or_null<scalar_t>(p);
    scalar_t *gyp = grad_y.data_ptr<scalar_t>(), *gaqp = ptr_or_null<scalar_t>(grad_aq),
             *gakp = ptr_or_null<scalar_t>(grad_ak), *partp = ptr_or_null<scalar_t>(part);
    at::parallel_for(0, d.B * chunks, 1, [&](int64_t begin, int64_t end) {
      std::vector<scalar_t> buf(d.H * d.S);
      for (int64_t u = begin; u < end; ++u) {
        const int64_t b = u / chunks, c = u % chunks;
        const int64_t t0 = c * d.Tq / chunks, t1 = (c + 1) * d.Tq / chunks;
        scalar_t* gak = nullptr;
        int64_t gak_len = d.S, gak_off = 0;
        if (partp != nullptr) {
          gak = partp + u * d.H * d.H * d.S;
        } else if (gakp != nullptr) {
          gak = gakp + b * d.H * d.H * d.ak_len;
          gak_len = d.ak_len, gak_off = d.ak_off;
        }
        for (int64_t t = t0; t < t1; ++t)
          mix_backward_row<scalar_t>(d, xp, gyp, aqp, akp, pp, gaqp, gak, gak_len, gak_off,
                                     buf.data(), b, t);
      }
    });
  });
  if (part.numel() > 0) grad_ak.narrow(3, k_off, d.S).add_(part.sum(1));
}

// Every side's mixing matrices in one call, positions last: for side i,
// A_i[b, h, g, t] = sum_r w1[b, t, r, h] w2[b, t, r, g] (+ gate[b, t, h] where h == g) (+ stat[h, g])
// (+ 1 where h == g and eye), added in that order and rounded as mixing.build_mixing's ops round them
// (its matmul sums the R products in order, without fused multiply-adds). w1, w2 (B, T, R, H),
// gate (B, T, H), stat (H, H): contiguous, or empty when absent; positions[i] gives side i's T (the
// fields' own T when given). One parallel loop over (side, b, h): a layer's sides cost one call.
std::vector<torch::Tensor> sides_forward(std::vector<torch::Tensor> w1s, std::vector<torch::Tensor> w2s,
                                         std::vector<torch::Tensor> gates,
                                         std::vector<torch::Tensor> stats, std::vector<int64_t> eyes,
                                         std::vector<int64_t> positions, int64_t n_batch,
                                         int64_t heads) {
  const int64_t n = static_cast<int64_t>(w1s.size()), B = n_batch, H = heads;
  TORCH_CHECK(n > 0 && w2s.size() == w1s.size() && gates.size() == w1s.size() &&
                  stats.size() == w1s.size() && eyes.size() == w1s.size() &&
                  positions.size() == w1s.size(),
              "compose_cpu: one w1, w2, gate, static, eye and position count per side");
  auto fits = [&](const torch::Tensor& x, std::vector<int64_t> shape) {
    return x.numel() == 0 || (x.is_contiguous() && x.sizes() == at::IntArrayRef(shape));
  };
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t T = positions[i], R = w1s[i].numel() > 0 ? w1s[i].size(2) : 0;
    TORCH_CHECK(fits(w1s[i], {B, T, R, H}) && fits(w2s[i], {B, T, R, H}) &&
                    fits(gates[i], {B, T, H}) && fits(stats[i], {H, H}) &&
                    (w1s[i].numel() == 0) == (w2s[i].numel() == 0),
                "compose_cpu: dynamic weights must be contiguous, w1 and w2 (B, T, R, H), gates "
                "(B, T, H), static (H, H)");
    auto opts = (w1s[i].numel() > 0 ? w1s[i] : gates[i].numel() > 0 ? gates[i] : stats[i]).options();
    out.push_back(torch::empty({B, H, H, T}, opts));
  }
  AT_DISPATCH_FLOATING_TYPES(out[0].scalar_type(), "sides_forward", [&] {
    using T_ = scalar_t;
    // one (side, b, h) per unit, positions innermost: contiguous writes
    at::parallel_for(0, n * B * H, 1, [&](int64_t begin, int64_t end) {
      for (int64_t unit = begin; unit < end; ++unit) {
        const int64_t i = unit / (B * H), bh = unit % (B * H), b = bh / H, h = bh % H;
        const int64_t T = positions[i], R = w1s[i].numel() > 0 ? w1s[i].size(2) : 0;
        const T_ *p1 = ptr_or_null<T_>(w1s[i]), *p2 = ptr_or_null<T_>(w2s[i]),
                 *pg = ptr_or_null<T_>(gates[i]), *ps = ptr_or_null<T_>(stats[i]);
        T_* pa = out[i].data_ptr<T_>();
        for (int64_t g = 0; g < H; ++g) {
          T_* row = pa + (bh * H + g) * T;
          const T_ diag = h == g ? T_(1) : T_(0), st = ps != nullptr ? ps[h * H + g] : T_(0);
          for (int64_t t = 0; t < T; ++t) {
            const int64_t u = b * T + t;
            T_ v = 0;
            for (int64_t r = 0; r < R; ++r) {
              const T_ prod = p1[(u * R + r) * H + h] * p2[(u * R + r) * H + g];
              v = r == 0 ? prod : v + prod;
            }
            if (pg != nullptr) v = v + (h == g ? pg[u * H + h] : T_(0));
            if (ps != nullptr) v = v + st;
            if (eyes[i]) v = v + diag;
            row[t] = v;
          }
        }
      }
    });
  });
  return out;
}

// Backward of sides_forward: per side (grad_w1, grad_w2, grad_gate, grad_stat), empty where absent,
// flattened side after side. grads: the matrices' gradients, contiguous.
std::vector<torch::Tensor> sides_backward(std::vector<torch::Tensor> grads,
                                          std::vector<torch::Tensor> w1s,
                                          std::vector<torch::Tensor> w2s,
                                          std::vector<int64_t> has_gate,
                                          std::vector<int64_t> has_stat) {
  const int64_t n = static_cast<int64_t>(grads.size());
  TORCH_CHECK(n > 0 && w1s.size() == grads.size() && w2s.size() == grads.size() &&
                  has_gate.size() == grads.size() && has_stat.size() == grads.size(),
              "compose_cpu: one gradient, w1, w2 and flag pair per side");
  const int64_t B = grads[0].size(0), H = grads[0].size(1);
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(grads[i].dim() == 4 && grads[i].is_contiguous() && grads[i].size(0) == B &&
                    grads[i].size(1) == H,
                "compose_cpu: grad of A must be contiguous (B, H, H, positions)");
    auto opts = grads[i].options();
    const bool low_rank = w1s[i].numel() > 0;
    out.push_back(low_rank ? torch::empty_like(w1s[i]) : torch::empty({0}, opts));
    out.push_back(low_rank ? torch::empty_like(w2s[i]) : torch::empty({0}, opts));
    out.push_back(has_gate[i] ? torch::empty({B, grads[i].size(3), H}, opts) : torch::empty({0}, opts));
    out.push_back(torch::empty({0}, opts));               // grad_stat: set after the loop
  }
  AT_DISPATCH_FLOATING_TYPES(grads[0].scalar_type(), "sides_backward", [&] {
    using T_ = scalar_t;
    // one (side, b, h) per unit, positions innermost: grad_a's rows are read contiguously
    at::parallel_for(0, n * B * H, 1, [&](int64_t begin, int64_t end) {
      for (int64_t unit = begin; unit < end; ++unit) {
        const int64_t i = unit / (B * H), bh = unit % (B * H), b = bh / H, h = bh % H;
        const int64_t T = grads[i].size(3), R = w1s[i].numel() > 0 ? w1s[i].size(2) : 0;
        const T_ *pd = grads[i].data_ptr<T_>(), *p1 = ptr_or_null<T_>(w1s[i]),
                 *p2 = ptr_or_null<T_>(w2s[i]);
        T_ *q1 = ptr_or_null<T_>(out[4 * i]), *q2 = ptr_or_null<T_>(out[4 * i + 1]),
           *qg = ptr_or_null<T_>(out[4 * i + 2]);
        const T_* dh = pd + bh * H * T;                  // grad_a[b, h, g, :] at dh + g * T
        if (qg != nullptr)
          for (int64_t t = 0; t < T; ++t) qg[(b * T + t) * H + h] = dh[h * T + t];
        for (int64_t r = 0; r < R; ++r)
          for (int64_t t = 0; t < T; ++t) {
            const int64_t row = ((b * T + t) * R + r) * H;
            T_ s1 = 0, s2 = 0;   // grad w1[r, h] = sum_g a'[h, g] w2[r, g]; grad w2[r, h] likewise
            for (int64_t g = 0; g < H; ++g) {
              s1 += dh[g * T + t] * p2[row + g];
              s2 += pd[((b * H + g) * H + h) * T + t] * p1[row + g];
            }
            q1[row + h] = s1;
            q2[row + h] = s2;
          }
      }
    });
  });
  for (int64_t i = 0; i < n; ++i)
    if (has_stat[i]) out[4 * i + 3] = grads[i].sum({0, 3});   // (H, G)
  return out;
}

// The dynamic weights' fields (DCMHA.md): dw (M, 2, R, H), one token and branch per row of
// hidden @ W2, holds w1 (the first R*H values) and w2 (the last R*H). Returns w1 RMS-normalised over
// the heads (no scale; eps), w2, each (M, R, H) contiguous, and 1 / rms (M, R) for the backward:
// one pass instead of a copy, a norm and their backward's half-dozen ops.
std::vector<torch::Tensor> fields_forward(torch::Tensor dw, double eps) {
  TORCH_CHECK(dw.dim() == 4 && dw.size(1) == 2 && dw.is_contiguous() && dw.device().is_cpu(),
              "compose_cpu: dynamic weights must be a contiguous CPU tensor (M, 2, R, H)");
  const int64_t M = dw.size(0), R = dw.size(2), H = dw.size(3);
  torch::Tensor w1 = torch::empty({M, R, H}, dw.options()), w2 = torch::empty({M, R, H}, dw.options());
  torch::Tensor inv = torch::empty({M, R}, dw.options());
  AT_DISPATCH_FLOATING_TYPES(dw.scalar_type(), "fields_forward", [&] {
    const scalar_t* src = dw.data_ptr<scalar_t>();
    scalar_t *p1 = w1.data_ptr<scalar_t>(), *p2 = w2.data_ptr<scalar_t>(), *pi = inv.data_ptr<scalar_t>();
    at::parallel_for(0, M, 256, [&](int64_t begin, int64_t end) {
      for (int64_t m = begin; m < end; ++m) {
        const scalar_t* row = src + m * 2 * R * H;
        for (int64_t r = 0; r < R; ++r) {
          const scalar_t* x = row + r * H;
          scalar_t squares = 0;
          for (int64_t h = 0; h < H; ++h) squares += x[h] * x[h];
          const scalar_t iv = scalar_t(1) / std::sqrt(squares / H + static_cast<scalar_t>(eps));
          for (int64_t h = 0; h < H; ++h) p1[(m * R + r) * H + h] = x[h] * iv;
          pi[m * R + r] = iv;
        }
        std::copy(row + R * H, row + 2 * R * H, p2 + m * R * H);
      }
    });
  });
  return {w1, w2, inv};
}

// Backward of fields_forward: grad_dw (M, 2, R, H) from the fields' gradients, the normalised w1
// and 1 / rms: d x = (g - y mean_h(g y)) / rms for w1's half, w2's gradient as is.
torch::Tensor fields_backward(torch::Tensor grad_w1, torch::Tensor grad_w2, torch::Tensor w1,
                              torch::Tensor inv) {
  TORCH_CHECK(grad_w1.is_contiguous() && grad_w2.is_contiguous() && grad_w1.sizes() == w1.sizes() &&
                  grad_w2.sizes() == w1.sizes(),
              "compose_cpu: the fields' gradients must be contiguous (M, R, H)");
  const int64_t M = w1.size(0), R = w1.size(1), H = w1.size(2);
  torch::Tensor grad = torch::empty({M, 2, R, H}, w1.options());
  AT_DISPATCH_FLOATING_TYPES(w1.scalar_type(), "fields_backward", [&] {
    const scalar_t *g1 = grad_w1.data_ptr<scalar_t>(), *g2 = grad_w2.data_ptr<scalar_t>(),
                   *y = w1.data_ptr<scalar_t>(), *pi = inv.data_ptr<scalar_t>();
    scalar_t* out = grad.data_ptr<scalar_t>();
    at::parallel_for(0, M, 256, [&](int64_t begin, int64_t end) {
      for (int64_t m = begin; m < end; ++m) {
        scalar_t* row = out + m * 2 * R * H;
        for (int64_t r = 0; r < R; ++r) {
          const int64_t at = (m * R + r) * H;
          scalar_t dot = 0;
          for (int64_t h = 0; h < H; ++h) dot += g1[at + h] * y[at + h];
          const scalar_t mean = dot / H, iv = pi[m * R + r];
          for (int64_t h = 0; h < H; ++h) row[r * H + h] = (g1[at + h] - y[at + h] * mean) * iv;
        }
        std::copy(g2 + m * R * H, g2 + (m + 1) * R * H, row + R * H);
      }
    });
  });
  return grad;
}
