/* The small containers of lib/ (ring.h, heap.h, map.h), each checked
 * against a plain reference model over long seeded random runs, and at
 * their edges (bounds, wrap-around, deletion inside a probe run). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "heap.h"
#include "link.h"
#include "map.h"
#include "ring.h"
#include "rtcsec/error.h"

/* ---- ring ---------------------------------------------------------------- */

START_TEST(ring_is_fifo_across_growth_and_wrap_against_a_model) {
  rtcsec_ring r;
  rtcsec_ring_init(&r, sizeof(uint64_t), 1000);
  uint64_t model[1000];
  size_t head = 0, count = 0; /* model: model[head..head+count) mod 1000 */
  uint64_t next = 1, st = 42;
  for (int step = 0; step < 200000; step++) {
    uint64_t dice = test_rand_next(&st) % 10;
    if (dice < 6) {
      int rc = rtcsec_ring_push(&r, &next);
      if (count == 1000) {
        ck_assert_int_eq(rc, RTCSEC_ERR_LIMIT);
      } else {
        ck_assert_int_eq(rc, RTCSEC_OK);
        model[(head + count++) % 1000] = next;
      }
      next++;
    } else {
      uint64_t got = 0;
      int popped = rtcsec_ring_pop(&r, &got);
      ck_assert_int_eq(popped, count > 0);
      if (popped) {
        ck_assert_uint_eq(got, model[head]);
        head = (head + 1) % 1000;
        count--;
      }
    }
    ck_assert_uint_eq(rtcsec_ring_count(&r), count);
    if (count > 0) {
      ck_assert_uint_eq(*(uint64_t *)rtcsec_ring_peek(&r), model[head]);
      size_t i = (size_t)(test_rand_next(&st) % count);
      ck_assert_uint_eq(*(uint64_t *)rtcsec_ring_at(&r, i), model[(head + i) % 1000]);
      ck_assert_ptr_null(rtcsec_ring_at(&r, count));
    } else {
      ck_assert_ptr_null(rtcsec_ring_peek(&r));
      rtcsec_ring_shrink(&r);
      ck_assert_ptr_null(r.items);
    }
  }
  rtcsec_ring_clear(&r);
  ck_assert_uint_eq(rtcsec_ring_count(&r), 0);
  ck_assert_ptr_null(r.items);
}
END_TEST

START_TEST(ring_bound_of_one_and_pop_of_empty) {
  rtcsec_ring r;
  rtcsec_ring_init(&r, 3, 1);
  ck_assert_int_eq(rtcsec_ring_pop(&r, NULL), 0);
  ck_assert_int_eq(rtcsec_ring_push(&r, "ab"), RTCSEC_OK);
  ck_assert_int_eq(rtcsec_ring_push(&r, "cd"), RTCSEC_ERR_LIMIT);
  char out[3];
  ck_assert_int_eq(rtcsec_ring_pop(&r, out), 1);
  ck_assert_str_eq(out, "ab");
  ck_assert_int_eq(rtcsec_ring_push(&r, "cd"), RTCSEC_OK);
  rtcsec_ring_clear(&r);
}
END_TEST

/* ---- heap ----------------------------------------------------------------- */

typedef struct item {
  int id;
  rtcsec_heap_node node;
  int in;
} item;

START_TEST(heap_top_is_the_minimum_through_push_update_remove_against_a_model) {
  enum { N = 500 };
  item *items = calloc(N, sizeof(*items));
  rtcsec_heap h;
  rtcsec_heap_init(&h);
  uint64_t st = 7;
  for (int i = 0; i < N; i++) {
    items[i].id = i;
    items[i].node.index = SIZE_MAX;
  }
  for (int step = 0; step < 100000; step++) {
    item *it = &items[test_rand_next(&st) % N];
    uint64_t key = test_rand_next(&st) % 1000; /* many equal keys */
    switch (test_rand_next(&st) % 3) {
    case 0:
      if (!it->in) {
        it->node.key = key;
        ck_assert_int_eq(rtcsec_heap_push(&h, &it->node), RTCSEC_OK);
        it->in = 1;
      } else {
        ck_assert_int_eq(rtcsec_heap_push(&h, &it->node), RTCSEC_ERR_INVALID_STATE);
      }
      break;
    case 1:
      rtcsec_heap_update(&h, &it->node, key); /* harmless when not in */
      break;
    default:
      rtcsec_heap_remove(&h, &it->node);
      it->in = 0;
      break;
    }
    size_t n = 0;
    uint64_t min = UINT64_MAX;
    for (int i = 0; i < N; i++) {
      if (items[i].in) {
        n++;
        if (items[i].node.key < min)
          min = items[i].node.key;
      }
    }
    ck_assert_uint_eq(rtcsec_heap_size(&h), n);
    if (n > 0) {
      item *top = RTCSEC_CONTAINER_OF(rtcsec_heap_top(&h), item, node);
      ck_assert(top->in);
      ck_assert_uint_eq(top->node.key, min);
    } else {
      ck_assert_ptr_null(rtcsec_heap_top(&h));
    }
  }
  rtcsec_heap_free(&h);
  free(items);
}
END_TEST

/* ---- map ------------------------------------------------------------------ */

typedef struct entry {
  uint32_t key;
  int stored;
} entry;

static int entry_eq(const void *value, const void *key) {
  return ((const entry *)value)->key == *(const uint32_t *)key;
}

START_TEST(map_finds_exactly_what_is_stored_against_a_model) {
  enum { N = 4000 };
  entry *e = calloc(N, sizeof(*e));
  rtcsec_map m;
  rtcsec_map_init(&m);
  uint64_t st = 99;
  /* _i == 1: a weak hash (16 buckets' worth) so that long probe runs and
   * deletions inside them are exercised hard */
  for (int i = 0; i < N; i++)
    e[i].key = (uint32_t)i * 2654435761u;
  /* The weak hash makes every operation walk a run of up to N entries:
   * fewer steps reach the same states. */
  int steps = _i ? 20000 : 200000;
  for (int step = 0; step < steps; step++) {
    entry *x = &e[test_rand_next(&st) % N];
    uint64_t h = _i ? x->key % 16 : rtcsec_map_hash(5, &x->key, sizeof(x->key));
    if (test_rand_next(&st) % 2) {
      if (!x->stored) {
        ck_assert_int_eq(rtcsec_map_insert(&m, h, x), RTCSEC_OK);
        x->stored = 1;
      }
    } else {
      ck_assert_int_eq(rtcsec_map_remove(&m, h, x), x->stored);
      x->stored = 0;
    }
    /* a few random lookups each step, stored or not */
    for (int k = 0; k < 4; k++) {
      entry *y = &e[test_rand_next(&st) % N];
      uint64_t hy = _i ? y->key % 16 : rtcsec_map_hash(5, &y->key, sizeof(y->key));
      void *got = rtcsec_map_find(&m, hy, &y->key, entry_eq);
      ck_assert_ptr_eq(got, y->stored ? y : NULL);
      /* peek, the hint: a stored value under the same hash, or NULL only
       * if there is none */
      entry *pk = rtcsec_map_peek(&m, hy);
      if (y->stored)
        ck_assert_ptr_nonnull(pk);
      if (pk != NULL) {
        ck_assert_int_eq(pk->stored, 1);
        ck_assert_uint_eq(_i ? pk->key % 16 : rtcsec_map_hash(5, &pk->key, sizeof(pk->key)), hy);
      }
    }
  }
  size_t n = 0;
  for (int i = 0; i < N; i++) {
    n += (size_t)e[i].stored;
    uint64_t h = _i ? e[i].key % 16 : rtcsec_map_hash(5, &e[i].key, sizeof(e[i].key));
    ck_assert_ptr_eq(rtcsec_map_find(&m, h, &e[i].key, entry_eq), e[i].stored ? &e[i] : NULL);
  }
  ck_assert_uint_eq(rtcsec_map_size(&m), n);
  ck_assert_uint_le(2 * n, m.cap);
  rtcsec_map_free(&m);
  free(e);
}
END_TEST

START_TEST(map_hash_depends_on_the_seed_and_every_byte) {
  uint8_t a[20] = {0}, b[20] = {0};
  ck_assert_uint_eq(rtcsec_map_hash(1, a, 20), rtcsec_map_hash(1, b, 20));
  ck_assert_uint_ne(rtcsec_map_hash(1, a, 20), rtcsec_map_hash(2, a, 20));
  for (int i = 0; i < 20; i++) {
    b[i] = 1;
    ck_assert_uint_ne(rtcsec_map_hash(1, a, 20), rtcsec_map_hash(1, b, 20));
    b[i] = 0;
  }
  ck_assert_int_eq(rtcsec_map_insert(&(rtcsec_map){0}, 1, NULL), RTCSEC_ERR_INVALID_ARGUMENT);
  ck_assert_ptr_null(rtcsec_map_peek(&(rtcsec_map){0}, 1));
  rtcsec_map_prefetch(&(rtcsec_map){0}, 1); /* an empty map: nothing to load */
}
END_TEST

int main(void) {
  Suite *s = suite_create("containers");
  TCase *r = tcase_create("ring");
  tcase_add_test(r, ring_is_fifo_across_growth_and_wrap_against_a_model);
  tcase_add_test(r, ring_bound_of_one_and_pop_of_empty);
  suite_add_tcase(s, r);
  TCase *h = tcase_create("heap");
  tcase_set_timeout(h, 60);
  tcase_add_test(h, heap_top_is_the_minimum_through_push_update_remove_against_a_model);
  suite_add_tcase(s, h);
  TCase *m = tcase_create("map");
  tcase_set_timeout(m, 60);
  tcase_add_loop_test(m, map_finds_exactly_what_is_stored_against_a_model, 0, 2);
  tcase_add_test(m, map_hash_depends_on_the_seed_and_every_byte);
  suite_add_tcase(s, m);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
