/* fuzz_dsn.c: libFuzzer target for dsn_parse (dsn.c) and pgsql_conninfo_describe (pgsql_conninfo.c): DATABASE_URL
 * in any shape, and no password in what gets logged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "dsn.h"
#include "pgsql_conninfo.h"

/* Each 0x01 byte of the input becomes this password-like word, so the
 * fuzzer can place a password anywhere without guessing one. It shares no
 * character with what masking inserts ("****", "password=") in a way that
 * could build a new copy of it. */
#define SECRET "Zq8SeCrEt"
#define MAX_URL 9000

static size_t count_occurrences(const char *text, const char *word)
{
	size_t count = 0;

	for (const char *at = strstr(text, word); at != NULL; at = strstr(at + 1, word))
		count++;
	return count;
}

static size_t count_in(const char *start, const char *end, const char *word)
{
	size_t count = 0;

	for (const char *at = strstr(start, word); at != NULL && at + strlen(word) <= end; at = strstr(at + 1, word))
		count++;
	return count;
}

/* The password libpq itself reads from url (URI or keyword string), as a
 * malloc'd string; NULL when it reads none or cannot parse url. */
static char *libpq_password(const char *url)
{
	char *parse_error = NULL;
	char *password = NULL;
	PQconninfoOption *options = PQconninfoParse(url, &parse_error);

	PQfreemem(parse_error);
	if (options == NULL)
		return NULL;
	for (const PQconninfoOption *option = options; option->keyword != NULL; option++)
		if (strcmp(option->keyword, "password") == 0 && option->val != NULL && option->val[0] != '\0') {
			password = strdup(option->val);
			break;
		}
	PQconninfoFree(options);
	return password;
}

/* How many copies of SECRET a person put in a URI's password, which may
 * hold '/', '@', '?', '#' or '%' unencoded: from the first ':' after
 * "scheme://" (before any '/') to the last '@' of the whole string. libpq may read such a
 * password as host, port or database; none of it may be shown. */
static size_t secrets_in_intended_password(const char *url)
{
	const char *authority = strstr(url, "://");
	const char *last_at = strrchr(url, '@');

	/* libpq reads anything else as a keyword string: no user info there. */
	if (strncmp(url, "postgresql://", 13) != 0 && strncmp(url, "postgres://", 11) != 0)
		return 0;
	if (last_at == NULL || last_at < authority)
		return 0;
	/* The user's ':' comes before any '/': "////u:x/@h" names no user. */
	size_t before_slash = strcspn(authority + 3, "/");
	const char *colon = memchr(authority + 3, ':', (size_t)(last_at - authority - 3));
	if (colon == NULL || colon > authority + 3 + before_slash)
		return 0;
	return count_in(colon + 1, last_at, SECRET);
}

/* What the log shows (the description, or the reason for refusing url)
 * holds no copy of SECRET that was a password: neither libpq's (spelled
 * out literally, so no escape could spell it another way) nor the one a
 * person meant. */
static void check_shown(const char *url, const char *password, const char *shown)
{
	size_t in_url = count_occurrences(url, SECRET);
	size_t in_shown = count_occurrences(shown, SECRET);

	if (password != NULL && strcmp(password, SECRET) == 0 && in_shown >= in_url)
		abort();
	if (in_shown > in_url - secrets_in_intended_password(url))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = malloc(MAX_URL + 1);
	size_t length = 0;

	/* An environment variable ends at its first NUL. */
	for (size_t i = 0; i < size && data[i] != '\0' && length + sizeof SECRET < MAX_URL; i++) {
		if (data[i] == 0x01) {
			memcpy(url + length, SECRET, sizeof SECRET - 1);
			length += sizeof SECRET - 1;
		} else {
			url[length++] = (char)data[i];
		}
	}
	url[length] = '\0';

	struct db_config *config = malloc(sizeof *config);
	char *error = malloc(512);
	char *password = libpq_password(url);
	int result = dsn_parse(url, "/default/orders.db", config, error, 512);
	if (result == 0) {
		if (memchr(config->target, '\0', sizeof config->target) == NULL ||
		    memchr(config->masked, '\0', sizeof config->masked) == NULL)
			abort();
		if (config->kind == DB_POSTGRES && (strcmp(config->target, url) != 0 || strstr(config->masked, SECRET)))
			abort();
		if (config->kind != DB_POSTGRES && config->kind != DB_SQLITE)
			abort();
	} else if (result == -1) {
		/* The message names the scheme, and nothing after it. */
		const char *scheme_end = strstr(url, "://");
		size_t in_scheme = scheme_end != NULL ? count_in(url, scheme_end, SECRET) : 0;
		if (memchr(error, '\0', 512) == NULL || count_occurrences(error, SECRET) > in_scheme)
			abort();
	} else {
		abort();
	}

	/* Into a buffer of the exact size the first byte picks: truncated, it
	 * still ends with a NUL and still hides the password. */
	size_t shown_size = size > 0 ? 1 + data[0] % 200 : 1;
	char *shown = malloc(shown_size);
	char *kept = NULL;
	int described = pgsql_conninfo_describe(url, shown, shown_size, &kept);
	if (memchr(shown, '\0', shown_size) == NULL)
		abort();
	if (described == 0 && (password == NULL) != (kept == NULL))
		abort();
	check_shown(url, password, shown);
	free(kept);
	free(shown);
	free(password);
	free(error);
	free(config);
	free(url);
	return 0;
}
