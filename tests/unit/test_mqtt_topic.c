/* Check suite: the topic patterns of the mosquitto plugin (plugins/mosquitto/topic.c): which
 * topics and subscription filters a pattern with %i (the client's identity) covers (MQTT 5.0
 * §4.7). They belong to the plugin, not to the library: the suite links them from the
 * internal library $(BUILD)/internal/libmqplugin-topic.a. */
#include "testutil.h"

#include <string.h>

#include "../../plugins/mosquitto/topic.h"

START_TEST(topic_names)
{
    const char *p = "devices/%i/telemetry";

    ck_assert_int_eq(mq_topic_within("devices/dev-1/telemetry", p, "dev-1"), 1);
    ck_assert_int_eq(mq_topic_within("devices/dev-2/telemetry", p, "dev-1"), 0);
    ck_assert_int_eq(mq_topic_within("devices/dev-1/telemetry/x", p, "dev-1"), 0);
    ck_assert_int_eq(mq_topic_within("devices/dev-1", p, "dev-1"), 0);
    ck_assert_int_eq(mq_topic_within("devices//telemetry", p, "dev-1"), 0);
    ck_assert_int_eq(mq_topic_within("devices/dev-1/telemetry/", p, "dev-1"), 0);
    ck_assert_int_eq(mq_topic_within("Devices/dev-1/telemetry", p, "dev-1"), 0);
    /* prefixes of the identity are not the identity */
    ck_assert_int_eq(mq_topic_within("devices/dev-10/telemetry", p, "dev-1"), 0);
    ck_assert_int_eq(mq_topic_within("devices/dev/telemetry", p, "dev-1"), 0);
    ck_assert_int_eq(mq_topic_within("devices/x/telemetry", "devices/+/telemetry", "dev-1"), 1);
    ck_assert_int_eq(mq_topic_within("devices/x/cmd/a/b", "devices/+/cmd/#", "dev-1"), 1);
    ck_assert_int_eq(mq_topic_within("a/b", "a/b", "dev-1"), 1);
    ck_assert_int_eq(mq_topic_within(NULL, p, "dev-1"), 0);
    ck_assert_int_eq(mq_topic_within("a", NULL, "dev-1"), 0);
}
END_TEST

START_TEST(subscription_filters)
{
    const char *p = "devices/%i/cmd/#";

    ck_assert_int_eq(mq_topic_within("devices/d/cmd/#", p, "d"), 1);
    ck_assert_int_eq(mq_topic_within("devices/d/cmd/+", p, "d"), 1);
    ck_assert_int_eq(mq_topic_within("devices/d/cmd/+/x", p, "d"), 1);
    ck_assert_int_eq(mq_topic_within("devices/d/cmd", p, "d"), 1); /* '#' covers its parent */
    ck_assert_int_eq(mq_topic_within("devices/d/cmd/reboot", p, "d"), 1);
    /* wider than the pattern: other devices' topics would match */
    ck_assert_int_eq(mq_topic_within("devices/+/cmd/#", p, "d"), 0);
    ck_assert_int_eq(mq_topic_within("devices/d/#", p, "d"), 0);
    ck_assert_int_eq(mq_topic_within("devices/d/+", p, "d"), 0);
    ck_assert_int_eq(mq_topic_within("devices/#", p, "d"), 0);
    ck_assert_int_eq(mq_topic_within("#", p, "d"), 0);
    ck_assert_int_eq(mq_topic_within("+/d/cmd/#", p, "d"), 0);
    ck_assert_int_eq(mq_topic_within("devices/e/cmd/#", p, "d"), 0);
    /* '+' in the pattern covers '+' and any single level, never '#' */
    ck_assert_int_eq(mq_topic_within("devices/+/telemetry", "devices/+/telemetry", "ops"), 1);
    ck_assert_int_eq(mq_topic_within("devices/#", "devices/+/telemetry", "ops"), 0);
    ck_assert_int_eq(mq_topic_within("devices/+/#", "devices/+/telemetry", "ops"), 0);
    ck_assert_int_eq(mq_topic_within("devices/d/cmd/#", "devices/+/cmd/#", "ops"), 1);
    /* a literal level covers only itself */
    ck_assert_int_eq(mq_topic_within("+/b", "a/b", "d"), 0);
    ck_assert_int_eq(mq_topic_within("a/+", "a/b", "d"), 0);
    ck_assert_int_eq(mq_topic_within("#", "#", "d"), 1);
}
END_TEST

START_TEST(dollar_topics)
{
    /* wildcards never cover topics beginning with '$' (MQTT 5.0 §4.7.2) */
    ck_assert_int_eq(mq_topic_within("$SYS/broker/uptime", "#", "d"), 0);
    ck_assert_int_eq(mq_topic_within("$SYS/broker", "+/broker", "d"), 0);
    ck_assert_int_eq(mq_topic_within("$SYS/#", "#", "d"), 0);
    ck_assert_int_eq(mq_topic_within("$SYS/broker", "$SYS/#", "d"), 1);
    ck_assert_int_eq(mq_topic_within("$share/g/devices/d/cmd/#", "devices/%i/cmd/#", "d"), 0);
}
END_TEST

START_TEST(capture)
{
    char id[65];
    char long_id[100];

    ck_assert_int_eq(mq_topic_capture("devices/dev-1/telemetry", "devices/%i/telemetry", id,
                                      sizeof id), 1);
    ck_assert_str_eq(id, "dev-1");
    ck_assert_int_eq(mq_topic_capture("devices/dev-1/telemetry/x", "devices/%i/telemetry", id,
                                      sizeof id), 0);
    ck_assert_int_eq(mq_topic_capture("devices/dev-1", "devices/%i/telemetry", id, sizeof id),
                     0);
    ck_assert_int_eq(mq_topic_capture("devices//telemetry", "devices/%i/telemetry", id,
                                      sizeof id), 0);
    ck_assert_int_eq(mq_topic_capture("other/dev-1/telemetry", "devices/%i/telemetry", id,
                                      sizeof id), 0);
    ck_assert_int_eq(mq_topic_capture("$x/dev-1/telemetry", "$x/%i/telemetry", id, sizeof id), 0);
    memset(long_id, 'a', 8 + 65); /* a 65-byte level: longer than any identity */
    memcpy(long_id, "devices/", 8);
    strcpy(long_id + 8 + 65, "/t");
    ck_assert_int_eq(mq_topic_capture(long_id, "devices/%i/t", id, sizeof id), 0);
    long_id[8 + 64] = '/'; /* 64 bytes: fits */
    long_id[8 + 65] = 't';
    long_id[8 + 66] = '\0';
    ck_assert_int_eq(mq_topic_capture(long_id, "devices/%i/t", id, sizeof id), 1);
    ck_assert_uint_eq(strlen(id), 64);
    ck_assert_int_eq(mq_topic_capture("t/dev-1", "t/%i", id, 6), 1);
    ck_assert_str_eq(id, "dev-1");
    ck_assert_int_eq(mq_topic_capture("t/dev-12", "t/%i", id, 6), 0); /* longer than id_cap - 1 */
}
END_TEST

START_TEST(pattern_validity)
{
    ck_assert_int_eq(mq_pattern_valid("devices/%i/telemetry", 1), 1);
    ck_assert_int_eq(mq_pattern_valid("devices/%i/cmd/#", 0), 1);
    ck_assert_int_eq(mq_pattern_valid("devices/+/telemetry", 0), 1);
    ck_assert_int_eq(mq_pattern_valid("#", 0), 1);
    ck_assert_int_eq(mq_pattern_valid("devices/+/telemetry", 1), 0); /* no %i */
    ck_assert_int_eq(mq_pattern_valid("devices/%i/x/%i", 1), 0);     /* two %i */
    ck_assert_int_eq(mq_pattern_valid("devices/%i/#", 1), 0);        /* a wildcard */
    ck_assert_int_eq(mq_pattern_valid("a/#/b", 0), 0);
    ck_assert_int_eq(mq_pattern_valid("a/b#", 0), 0);
    ck_assert_int_eq(mq_pattern_valid("a/b+/c", 0), 0);
    ck_assert_int_eq(mq_pattern_valid("a/x%i/c", 0), 0);
    ck_assert_int_eq(mq_pattern_valid("a/%ix/c", 0), 0);
    ck_assert_int_eq(mq_pattern_valid("", 0), 0);
    ck_assert_int_eq(mq_pattern_valid(NULL, 0), 0);
}
END_TEST

START_TEST(pattern_lists)
{
    char a[] = "devices/%i/cmd/#", b[] = "fleet/%i/config";
    mq_patterns p;

    memset(&p, 0, sizeof p);
    ck_assert_int_eq(mq_topic_within_any("devices/d/cmd/x", &p, "d"), 0); /* empty: nothing */
    p.v[0] = a;
    p.v[1] = b;
    p.n = 2;
    ck_assert_int_eq(mq_topic_within_any("devices/d/cmd/x", &p, "d"), 1);
    ck_assert_int_eq(mq_topic_within_any("fleet/d/config", &p, "d"), 1);
    ck_assert_int_eq(mq_topic_within_any("fleet/e/config", &p, "d"), 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("mqtt_topic");
    TCase *tc = tcase_create("patterns");

    tcase_add_test(tc, topic_names);
    tcase_add_test(tc, subscription_filters);
    tcase_add_test(tc, dollar_topics);
    tcase_add_test(tc, capture);
    tcase_add_test(tc, pattern_validity);
    tcase_add_test(tc, pattern_lists);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(make_suite());
}
