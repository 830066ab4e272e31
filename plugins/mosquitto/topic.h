/*
 * iotsec mosquitto plugin — topic patterns (topic.c): plain C, no mosquitto or libiotsec
 * header, so the Check suite tests/unit/test_mqtt_topic.c links it on its own.
 *
 * A pattern is an MQTT filter (MQTT 5.0 §4.7) whose levels may be "%i", the identity of the
 * client being checked.
 */
#ifndef IOTSEC_MQTT_TOPIC_H
#define IOTSEC_MQTT_TOPIC_H

#include <stddef.h>

#define MQ_MAX_PATTERNS 32u /* topic patterns per list */

/* A list of topic patterns: MQTT filters whose levels may be "%i", the client's identity. */
typedef struct mq_patterns {
    char *v[MQ_MAX_PATTERNS];
    size_t n;
    int given; /* set from the configuration (else the default) */
} mq_patterns;

/* Is every topic that filter matches also matched by pattern, with "%i" levels of pattern
 * standing for id? filter is a topic name (no wildcards) for publish and delivery, or a
 * subscription filter for subscribe. A filter or topic beginning with '$' is within a
 * pattern only when the pattern's first level is the same literal. Returns 1 or 0. */
int mq_topic_within(const char *filter, const char *pattern, const char *id);
/* mq_topic_within against each pattern of p; 1 when one of them covers filter. */
int mq_topic_within_any(const char *filter, const mq_patterns *p, const char *id);
/* Is topic (a name, no wildcards) an instance of pattern with any value in its "%i" level?
 * Then the value goes to id (NUL-terminated, at most id_cap − 1 bytes; a longer value is no
 * match) and 1 is returned; else 0. */
int mq_topic_capture(const char *topic, const char *pattern, char *id, size_t id_cap);
/* A pattern is valid when it is a well-formed MQTT filter ('+' and '#' alone in their
 * level, '#' last) and "%i" appears only as a whole level. telemetry: exactly one "%i" level
 * and no wildcard. Returns 1 or 0. */
int mq_pattern_valid(const char *pattern, int telemetry);

#endif
