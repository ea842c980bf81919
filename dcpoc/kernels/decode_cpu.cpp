// y (B, N): the fused projection's output; q (B, H, 1, d); k, v (B, H, Tmax, d), the token's k, v
// already at t; key_rows (n_key, n, B, H, Tmax); w2 (nb, C, n*H) as in generate.DecodePlan;
// st_pre, st_post (H, H): the matrices a composition adds (static^T, the identity when it has no
// query side) or empty. Writes the token's key-side fields at t; returns (B, 1, H*d).
#include <torch/extension.h>
#include <cmath>
#include <vector>

template <typename T>
static void compose(const T* a, T* out, const T* M, int H, int S, int R, bool gate,
                    const T* rows, int64_t st_row, int64_t st_h, T* coef) {
  // a, out: (H, S); M: (H, H); rows: row r, head h, position s at rows[r*st_row + h*st_h + s]
  for (int g = 0; g < H; ++g)
    for (int s = 0; s < S; ++s) {
      T acc = 0;
      for (int h = 0; h < H; ++h) acc += M[g * H + h] * a[h * S + s];
      out[g * S + s] = acc;
    }
  if (rows == nullptr) return;
  if (R > 0) {
    for (int s = 0; s < S; ++s) {
      for (int r = 0; r < R; ++r) {
        T c = 0;
        for (int h = 0; h < H; ++h) c += rows[r * st_row + h * st_h + s] * a[h * S + s];
        coef[r] = c;
      }
      for (int g = 0; g < H; ++g) {
        T acc = 0;
        for (int r = 0; r < R; ++r) acc += rows[(R + r) * st_row + g * st_h + s] * coef[r];
        out[g * S + s] += acc;
      }
    }
  }
  if (gate)
    for (int g = 0; g < H; ++g)
      for (int s = 0; s < S; ++s) out[g * S + s] += rows[2 * R * st_row + g * st_h + s] * a[g * S + s];
}

template <typename T>
static void run(const torch::Tensor& y, const torch::Tensor& q, const torch::Tensor& k,
                const torch::Tensor& v, torch::Tensor& key_rows, const torch::Tensor& w2,
                const torch::Tensor& st_pre, const torch::Tensor& st_post, torch::Tensor& out,
                std::vector<int64_t> meta, double scale) {
  // meta: hidden_off, C, gate_off, nb, n_key, R, gate, then per comp (pre, post): on, q, k
  // (indices, -1 for none), then t, s0, S
  const int64_t hidden_off = meta[0], C = meta[1], gate_off = meta[2], nb = meta[3],
                n_key = meta[4], R = meta[5], gate = meta[6], t = meta[13], s0 = meta[14], S = meta[15];
  const bool on[2] = {meta[7] != 0, meta[10] != 0};
  const int64_t q_index[2] = {meta[8], meta[11]}, k_index[2] = {meta[9], meta[12]};
  const int64_t B = k.size(0), H = k.size(1), Tmax = k.size(2), d = k.size(3);
  const int64_t n = 2 * R + gate, width = w2.defined() && w2.numel() ? w2.size(2) : 0;
  const T* yp = y.data_ptr<T>();
  const T* w2p = width ? w2.data_ptr<T>() : nullptr;
  T* kr = key_rows.numel() ? key_rows.data_ptr<T>() : nullptr;
  // key_rows (n_key, n, B, H, Tmax) contiguous
  const int64_t kr_row = B * H * Tmax, kr_b = H * Tmax, kr_h = Tmax, kr_br = n * kr_row;
  std::vector<T> dyn(nb * n * H), hid(C), M(2 * H * H), a(H * S), p(H * S), coef(R + 1);
  const torch::Tensor* statics[2] = {&st_pre, &st_post};
  for (int64_t b = 0; b < B; ++b) {
    const T* yb = yp + b * y.stride(0);
    for (int64_t j = 0; j < nb; ++j) {
      T* dj = dyn.data() + j * n * H;
      if (R) {
        for (int64_t c = 0; c < C; ++c) {
          T z = yb[hidden_off + j * C + c];
          hid[c] = z + z * std::erf(z);                   // sqrt(2) GELU(sqrt(2) z)
        }
        for (int64_t o = 0; o < 2 * R * H; ++o) {
          T acc = 0;
          for (int64_t c = 0; c < C; ++c) acc += hid[c] * w2p[(j * C + c) * width + o];
          dj[o] = acc;
        }
        for (int64_t r = 0; r < R; ++r) {
          T ms = 0;
          for (int64_t h = 0; h < H; ++h) ms += dj[r * H + h] * dj[r * H + h];
          T inv = T(1) / std::sqrt(ms / H + T(1e-6));
          for (int64_t h = 0; h < H; ++h) dj[r * H + h] *= inv;
        }
      }
      if (gate)
        for (int64_t h = 0; h < H; ++h) dj[2 * R * H + h] = std::tanh(yb[gate_off + j * H + h]);
      if (j < n_key)
        for (int64_t row = 0; row < n; ++row)
          for (int64_t h = 0; h < H; ++h)
            kr[j * kr_br + row * kr_row + b * kr_b + h * kr_h + t] = dj[row * H + h];
    }
    for (int ci = 0; ci < 2; ++ci) {
      T* Mc = M.data() + ci * H * H;
      std::fill(Mc, Mc + H * H, T(0));
      if (q_index[ci] >= 0) {
        const T* dq = dyn.data() + (n_key + q_index[ci]) * n * H;
        for (int64_t g = 0; g < H; ++g) {
          Mc[g * H + g] += T(1) + (gate ? dq[2 * R * H + g] : T(0));
          for (int64_t h = 0; h < H; ++h)
            for (int64_t r = 0; r < R; ++r) Mc[g * H + h] += dq[(R + r) * H + g] * dq[r * H + h];
        }
      }
      if (statics[ci]->numel()) {
        const T* sp = statics[ci]->data_ptr<T>();
        for (int64_t i = 0; i < H * H; ++i) Mc[i] += sp[i];
      }
    }
    for (int64_t h = 0; h < H; ++h) {
      const T* qh = q.data_ptr<T>() + b * q.stride(0) + h * q.stride(1);
      const T* kh = k.data_ptr<T>() + ((b * H + h) * Tmax + s0) * d;
      for (int64_t s = 0; s < S; ++s) {
        T acc = 0;
        for (int64_t i = 0; i < d; ++i) acc += qh[i * q.stride(3)] * kh[s * d + i];
        a[h * S + s] = acc * T(scale);
      }
    }
    T* cur = a.data();
    T* nxt = p.data();
    for (int ci = 0; ci < 2; ++ci) {
      if (on[ci]) {
        const T* rows = k_index[ci] >= 0 ? kr + k_index[ci] * kr_br + b * kr_b + s0 : nullptr;
        compose<T>(cur, nxt, M.data() + ci * H * H, H, S, R, gate, rows, kr_row, kr_h, coef.data());
        std::swap(cur, nxt);
      }
      if (ci == 0)
        for (int64_t h = 0; h < H; ++h) {
          T mx = -INFINITY, sum = 0;
          for (int64_t s = 0; s < S; ++s) mx = std::max(mx, cur[h * S + s]);
          for (int64_t s = 0; s < S; ++s) { cur[h * S + s] = std::exp(cur[h * S + s] - mx); sum += cur[h * S + s]; }
          for (int64_t s = 0; s < S; ++s) cur[h * S + s] /= sum;
        }
    }
    T* op = out.data_ptr<T>() + b * H * d;
    for (int64_t g = 0; g < H; ++g) {
      const T* vg = v.data_ptr<T>() + ((b * H + g) * Tmax + s0) * d;
      for (int64_t i = 0; i < d; ++i) op[g * d + i] = 0;
      for (int64_t s = 0; s < S; ++s) {
        T w = cur[g * S + s];
        for (int64_t i = 0; i < d; ++i) op[g * d + i] += w * vg[s * d + i];
      }
    }
  }
}

torch::Tensor dcformer_decode(torch::Tensor y, torch::Tensor q, torch::Tensor k, torch::Tensor v,
                              torch::Tensor key_rows, torch::Tensor w2, torch::Tensor st_pre,
                              torch::Tensor st_post, std::vector<int64_t> meta, double scale) {
  TORCH_CHECK(y.is_contiguous() && k.is_contiguous() && v.is_contiguous() && key_rows.is_contiguous()
              && w2.is_contiguous() && meta.size() == 16 && q.stride(3) == 1, "dcformer_decode: bad inputs");
  auto out = torch::empty({k.size(0), 1, k.size(1) * k.size(3)}, k.options());
  AT_DISPATCH_FLOATING_TYPES(k.scalar_type(), "dcformer_decode", [&] {
    run<scalar_t>(y, q, k, v, key_rows, w2, st_pre, st_post, out, meta, scale);
  });
  return out;
}
