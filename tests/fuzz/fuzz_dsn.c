/* fuzz_dsn.c: libFuzzer target for db_config_parse and dsn_mask_password (dsn.c): DATABASE_URL in any shape, and no
 * password in what gets logged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "dsn.h"

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

/* When libpq finds SECRET as the password and the input spells it out
 * literally (no %-escape or backslash could spell it another way), the
 * masked text must hold fewer copies of SECRET than the input: the
 * password's own copy is gone. */
static void check_masked(const char *url, const char *password, const char *masked)
{
	if (password == NULL || strcmp(password, SECRET) != 0 || strpbrk(url, "%\\") != NULL)
		return;
	if (count_occurrences(masked, SECRET) >= count_occurrences(url, SECRET))
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
	int result = db_config_parse(url, "/default/orders.db", config, error, 512);
	if (result == 0) {
		if (memchr(config->target, '\0', sizeof config->target) == NULL ||
		    memchr(config->masked, '\0', sizeof config->masked) == NULL)
			abort();
		if (config->kind == DB_POSTGRES && strcmp(config->target, url) != 0)
			abort();
		if (config->kind != DB_POSTGRES && config->kind != DB_SQLITE)
			abort();
		check_masked(url, password, config->masked);
	} else if (result == -1) {
		if (memchr(error, '\0', 512) == NULL)
			abort();
		check_masked(url, password, error); /* the message quotes the masked URL */
	} else {
		abort();
	}

	/* Masking into a buffer of the exact size the first byte picks:
	 * truncated, it still ends with a NUL and still hides the password. */
	size_t out_size = size > 0 ? 1 + data[0] % 96 : 1;
	char *out = malloc(out_size);
	dsn_mask_password(url, out, out_size);
	if (memchr(out, '\0', out_size) == NULL)
		abort();
	if (password != NULL && strcmp(password, SECRET) == 0 && strpbrk(url, "%\\") == NULL &&
	    count_occurrences(url, SECRET) == 1 && strstr(out, SECRET) != NULL)
		abort();
	free(out);
	free(password);
	free(error);
	free(config);
	free(url);
	return 0;
}
