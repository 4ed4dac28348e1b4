/* options.c: linked into the sanitizer build only (make sanitize): every ASan, LSan or UBSan report is fatal and lands
 * in one directory the tests check, whatever the environment says (lighttpd and `env -i` pass no ASAN_OPTIONS on). */
#ifndef SANITIZER_REPORTS
#error "build with -DSANITIZER_REPORTS='\"/dir\"' (see the Makefile's sanitize target)"
#endif

const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__lsan_default_options(void);

/* One log_path for the three (the runtime keeps the last one parsed);
 * it gets ".PID" appended. The directory is mode 1777, as workers
 * write there after dropping to www-data. allocator_may_return_null: a
 * huge malloc fails as it does in production (libfcgi asserts on it)
 * instead of being a report of its own. */
const char *__asan_default_options(void)
{
	return "log_path=" SANITIZER_REPORTS "/report:halt_on_error=1:detect_leaks=1:allocator_may_return_null=1:"
	       "detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1";
}

const char *__ubsan_default_options(void)
{
	return "log_path=" SANITIZER_REPORTS "/report:halt_on_error=1:print_stacktrace=1";
}

const char *__lsan_default_options(void)
{
	return "log_path=" SANITIZER_REPORTS "/report";
}
