/* identity.c — see identity.h. */
#include "agent/identity.h"
#include "base64.h"
#include "err.h"
#include "exitcode.h"
#include "guest/cmdline.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

char *identity_to_json(const struct ap_identity *id, struct err *e)
{
	char b64[BASE64_LEN(LIMIT_AGENT_ENTROPY) + 1];
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (!o)
		goto out;
	cJSON_AddNumberToObject(o, "time_sec", (double)id->time_sec);
	cJSON_AddNumberToObject(o, "time_nsec", (double)id->time_nsec);
	if (id->nentropy && base64_encode(id->entropy, id->nentropy, b64, sizeof(b64)) == 0)
		cJSON_AddStringToObject(o, "entropy", b64);
	if (id->machine_id[0])
		cJSON_AddStringToObject(o, "machine_id", id->machine_id);
	if (id->hostname[0])
		cJSON_AddStringToObject(o, "hostname", id->hostname);
	if (id->ip[0]) {
		cJSON_AddStringToObject(o, "ip", id->ip);
		cJSON_AddNumberToObject(o, "prefix", id->prefix);
		if (id->gateway[0])
			cJSON_AddStringToObject(o, "gateway", id->gateway);
		if (id->dev[0])
			cJSON_AddStringToObject(o, "dev", id->dev);
	}
	s = cJSON_PrintUnformatted(o);
out:
	cJSON_Delete(o);
	if (!s)
		err_set(e, EXIT_SYSTEM, "identity: out of memory");
	return s;
}

/* Copies member name (a string of at most size - 1 bytes) into out; absent
 * leaves out "". -1 when present but not a string or too long. */
static int get_str(const cJSON *o, const char *name, char *out, size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	out[0] = '\0';
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= size)
		return -1;
	memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
	return 0;
}

static int get_num(const cJSON *o, const char *name, double lo, double hi, bool need,
		   long long *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!v || cJSON_IsNull(v))
		return need ? -1 : 0;
	if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi ||
	    v->valuedouble != (double)(long long)v->valuedouble)
		return -1;
	*out = (long long)v->valuedouble;
	return 0;
}

static bool is_hex32(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return n == 32 && !s[n];
}

static bool is_ipv4(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

int identity_from_json(const char *text, size_t len, struct ap_identity *id, struct err *e)
{
	cJSON *o = cJSON_ParseWithLength(text, len);
	char b64[BASE64_LEN(LIMIT_AGENT_ENTROPY) + 1];
	long long sec = 0, nsec = 0, prefix = 0;
	const char *bad = NULL;

	memset(id, 0, sizeof(*id));
	if (!o || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return err_set(e, EXIT_VERIFY, "identity: payload is not a JSON object");
	}
	if (get_num(o, "time_sec", 0, 1e15, true, &sec) < 0)
		bad = "time_sec (seconds since the epoch)";
	else if (get_num(o, "time_nsec", 0, 999999999, false, &nsec) < 0)
		bad = "time_nsec (0..999999999)";
	else if (get_str(o, "entropy", b64, sizeof(b64)) < 0 ||
		 (b64[0] && base64_decode(b64, strlen(b64), id->entropy, sizeof(id->entropy),
					  &id->nentropy, e) < 0))
		bad = "entropy (base64 of at most LIMIT_AGENT_ENTROPY bytes)";
	else if (get_str(o, "machine_id", id->machine_id, sizeof(id->machine_id)) < 0 ||
		 (id->machine_id[0] && !is_hex32(id->machine_id)))
		bad = "machine_id (32 lowercase hex digits)";
	else if (get_str(o, "hostname", id->hostname, sizeof(id->hostname)) < 0 ||
		 (id->hostname[0] && !hostname_is_valid(id->hostname)))
		bad = "hostname";
	else if (get_str(o, "ip", id->ip, sizeof(id->ip)) < 0 || (id->ip[0] && !is_ipv4(id->ip)))
		bad = "ip (dotted IPv4)";
	else if (get_str(o, "gateway", id->gateway, sizeof(id->gateway)) < 0 ||
		 (id->gateway[0] && !is_ipv4(id->gateway)))
		bad = "gateway (dotted IPv4)";
	else if (get_num(o, "prefix", 0, 32, false, &prefix) < 0)
		bad = "prefix (0..32)";
	else if (get_str(o, "dev", id->dev, sizeof(id->dev)) < 0 ||
		 strspn(id->dev, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(id->dev))
		bad = "dev (an interface name)";
	cJSON_Delete(o);
	if (bad)
		return err_set(e, EXIT_VERIFY, "identity: bad or missing %s", bad);
	id->time_sec = sec;
	id->time_nsec = (long)nsec;
	id->prefix = (int)prefix;
	return 0;
}
