package pgwire

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// pgParameters are PostgreSQL 15's configuration parameters a client may SET, RESET and SHOW:
// the names in PostgreSQL 15's postgresql.conf.sample (Debian's postgresql-client-15 ships it as
// /usr/share/postgresql/15/postgresql.conf.sample), the developer options and the session-only
// ones (role, session_authorization, transaction_*, is_superuser). SET of another name is
// PostgreSQL's error 42704, unless it is a custom name with a dot (an extension's "x.y").
var pgParameters = map[string]bool{
	"allow_system_table_mods":                true,
	"application_name":                       true,
	"archive_cleanup_command":                true,
	"archive_command":                        true,
	"archive_library":                        true,
	"archive_mode":                           true,
	"archive_timeout":                        true,
	"array_nulls":                            true,
	"authentication_timeout":                 true,
	"autovacuum":                             true,
	"autovacuum_analyze_scale_factor":        true,
	"autovacuum_analyze_threshold":           true,
	"autovacuum_freeze_max_age":              true,
	"autovacuum_max_workers":                 true,
	"autovacuum_multixact_freeze_max_age":    true,
	"autovacuum_naptime":                     true,
	"autovacuum_vacuum_cost_delay":           true,
	"autovacuum_vacuum_cost_limit":           true,
	"autovacuum_vacuum_insert_scale_factor":  true,
	"autovacuum_vacuum_insert_threshold":     true,
	"autovacuum_vacuum_scale_factor":         true,
	"autovacuum_vacuum_threshold":            true,
	"autovacuum_work_mem":                    true,
	"backend_flush_after":                    true,
	"backslash_quote":                        true,
	"backtrace_functions":                    true,
	"bgwriter_delay":                         true,
	"bgwriter_flush_after":                   true,
	"bgwriter_lru_maxpages":                  true,
	"bgwriter_lru_multiplier":                true,
	"bonjour":                                true,
	"bonjour_name":                           true,
	"bytea_output":                           true,
	"check_function_bodies":                  true,
	"checkpoint_completion_target":           true,
	"checkpoint_flush_after":                 true,
	"checkpoint_timeout":                     true,
	"checkpoint_warning":                     true,
	"client_connection_check_interval":       true,
	"client_encoding":                        true,
	"client_min_messages":                    true,
	"cluster_name":                           true,
	"commit_delay":                           true,
	"commit_siblings":                        true,
	"compute_query_id":                       true,
	"config_file":                            true,
	"constraint_exclusion":                   true,
	"cpu_index_tuple_cost":                   true,
	"cpu_operator_cost":                      true,
	"cpu_tuple_cost":                         true,
	"cursor_tuple_fraction":                  true,
	"data_directory":                         true,
	"data_sync_retry":                        true,
	"datestyle":                              true,
	"db_user_namespace":                      true,
	"deadlock_timeout":                       true,
	"debug_discard_caches":                   true,
	"debug_pretty_print":                     true,
	"debug_print_parse":                      true,
	"debug_print_plan":                       true,
	"debug_print_rewritten":                  true,
	"default_statistics_target":              true,
	"default_table_access_method":            true,
	"default_tablespace":                     true,
	"default_text_search_config":             true,
	"default_toast_compression":              true,
	"default_transaction_deferrable":         true,
	"default_transaction_isolation":          true,
	"default_transaction_read_only":          true,
	"dynamic_library_path":                   true,
	"dynamic_shared_memory_type":             true,
	"effective_cache_size":                   true,
	"effective_io_concurrency":               true,
	"enable_async_append":                    true,
	"enable_bitmapscan":                      true,
	"enable_gathermerge":                     true,
	"enable_hashagg":                         true,
	"enable_hashjoin":                        true,
	"enable_incremental_sort":                true,
	"enable_indexonlyscan":                   true,
	"enable_indexscan":                       true,
	"enable_material":                        true,
	"enable_memoize":                         true,
	"enable_mergejoin":                       true,
	"enable_nestloop":                        true,
	"enable_parallel_append":                 true,
	"enable_parallel_hash":                   true,
	"enable_partition_pruning":               true,
	"enable_partitionwise_aggregate":         true,
	"enable_partitionwise_join":              true,
	"enable_seqscan":                         true,
	"enable_sort":                            true,
	"enable_tidscan":                         true,
	"escape_string_warning":                  true,
	"event_source":                           true,
	"exit_on_error":                          true,
	"extension_destdir":                      true,
	"external_pid_file":                      true,
	"extra_float_digits":                     true,
	"force_parallel_mode":                    true,
	"from_collapse_limit":                    true,
	"fsync":                                  true,
	"full_page_writes":                       true,
	"geqo":                                   true,
	"geqo_effort":                            true,
	"geqo_generations":                       true,
	"geqo_pool_size":                         true,
	"geqo_seed":                              true,
	"geqo_selection_bias":                    true,
	"geqo_threshold":                         true,
	"gin_fuzzy_search_limit":                 true,
	"gin_pending_list_limit":                 true,
	"hash_mem_multiplier":                    true,
	"hba_file":                               true,
	"hot_standby":                            true,
	"hot_standby_feedback":                   true,
	"huge_page_size":                         true,
	"huge_pages":                             true,
	"ident_file":                             true,
	"idle_in_transaction_session_timeout":    true,
	"idle_session_timeout":                   true,
	"ignore_checksum_failure":                true,
	"ignore_invalid_pages":                   true,
	"ignore_system_indexes":                  true,
	"intervalstyle":                          true,
	"is_superuser":                           true,
	"jit":                                    true,
	"jit_above_cost":                         true,
	"jit_debugging_support":                  true,
	"jit_dump_bitcode":                       true,
	"jit_expressions":                        true,
	"jit_inline_above_cost":                  true,
	"jit_optimize_above_cost":                true,
	"jit_profiling_support":                  true,
	"jit_provider":                           true,
	"jit_tuple_deforming":                    true,
	"join_collapse_limit":                    true,
	"krb_caseins_users":                      true,
	"krb_server_keyfile":                     true,
	"lc_messages":                            true,
	"lc_monetary":                            true,
	"lc_numeric":                             true,
	"lc_time":                                true,
	"listen_addresses":                       true,
	"lo_compat_privileges":                   true,
	"local_preload_libraries":                true,
	"lock_timeout":                           true,
	"log_autovacuum_min_duration":            true,
	"log_checkpoints":                        true,
	"log_connections":                        true,
	"log_destination":                        true,
	"log_directory":                          true,
	"log_disconnections":                     true,
	"log_duration":                           true,
	"log_error_verbosity":                    true,
	"log_executor_stats":                     true,
	"log_file_mode":                          true,
	"log_filename":                           true,
	"log_hostname":                           true,
	"log_line_prefix":                        true,
	"log_lock_waits":                         true,
	"log_min_duration_sample":                true,
	"log_min_duration_statement":             true,
	"log_min_error_statement":                true,
	"log_min_messages":                       true,
	"log_parameter_max_length":               true,
	"log_parameter_max_length_on_error":      true,
	"log_parser_stats":                       true,
	"log_planner_stats":                      true,
	"log_recovery_conflict_waits":            true,
	"log_replication_commands":               true,
	"log_rotation_age":                       true,
	"log_rotation_size":                      true,
	"log_startup_progress_interval":          true,
	"log_statement":                          true,
	"log_statement_sample_rate":              true,
	"log_statement_stats":                    true,
	"log_temp_files":                         true,
	"log_timezone":                           true,
	"log_transaction_sample_rate":            true,
	"log_truncate_on_rotation":               true,
	"logging_collector":                      true,
	"logical_decoding_work_mem":              true,
	"maintenance_io_concurrency":             true,
	"maintenance_work_mem":                   true,
	"max_connections":                        true,
	"max_files_per_process":                  true,
	"max_locks_per_transaction":              true,
	"max_logical_replication_workers":        true,
	"max_parallel_maintenance_workers":       true,
	"max_parallel_workers":                   true,
	"max_parallel_workers_per_gather":        true,
	"max_pred_locks_per_page":                true,
	"max_pred_locks_per_relation":            true,
	"max_pred_locks_per_transaction":         true,
	"max_prepared_transactions":              true,
	"max_replication_slots":                  true,
	"max_slot_wal_keep_size":                 true,
	"max_stack_depth":                        true,
	"max_standby_archive_delay":              true,
	"max_standby_streaming_delay":            true,
	"max_sync_workers_per_subscription":      true,
	"max_wal_senders":                        true,
	"max_wal_size":                           true,
	"max_worker_processes":                   true,
	"min_dynamic_shared_memory":              true,
	"min_parallel_index_scan_size":           true,
	"min_parallel_table_scan_size":           true,
	"min_wal_size":                           true,
	"old_snapshot_threshold":                 true,
	"parallel_leader_participation":          true,
	"parallel_setup_cost":                    true,
	"parallel_tuple_cost":                    true,
	"password_encryption":                    true,
	"plan_cache_mode":                        true,
	"port":                                   true,
	"post_auth_delay":                        true,
	"pre_auth_delay":                         true,
	"primary_conninfo":                       true,
	"primary_slot_name":                      true,
	"promote_trigger_file":                   true,
	"quote_all_identifiers":                  true,
	"random_page_cost":                       true,
	"recovery_end_command":                   true,
	"recovery_init_sync_method":              true,
	"recovery_min_apply_delay":               true,
	"recovery_prefetch":                      true,
	"recovery_target":                        true,
	"recovery_target_action":                 true,
	"recovery_target_inclusive":              true,
	"recovery_target_lsn":                    true,
	"recovery_target_name":                   true,
	"recovery_target_time":                   true,
	"recovery_target_timeline":               true,
	"recovery_target_xid":                    true,
	"recursive_worktable_factor":             true,
	"restart_after_crash":                    true,
	"restore_command":                        true,
	"role":                                   true,
	"row_security":                           true,
	"search_path":                            true,
	"seq_page_cost":                          true,
	"session_authorization":                  true,
	"session_preload_libraries":              true,
	"session_replication_role":               true,
	"shared_buffers":                         true,
	"shared_memory_type":                     true,
	"shared_preload_libraries":               true,
	"ssl":                                    true,
	"ssl_ca_file":                            true,
	"ssl_cert_file":                          true,
	"ssl_ciphers":                            true,
	"ssl_crl_dir":                            true,
	"ssl_crl_file":                           true,
	"ssl_dh_params_file":                     true,
	"ssl_ecdh_curve":                         true,
	"ssl_key_file":                           true,
	"ssl_max_protocol_version":               true,
	"ssl_min_protocol_version":               true,
	"ssl_passphrase_command":                 true,
	"ssl_passphrase_command_supports_reload": true,
	"ssl_prefer_server_ciphers":              true,
	"standard_conforming_strings":            true,
	"statement_timeout":                      true,
	"stats_fetch_consistency":                true,
	"superuser_reserved_connections":         true,
	"synchronize_seqscans":                   true,
	"synchronous_commit":                     true,
	"synchronous_standby_names":              true,
	"syslog_facility":                        true,
	"syslog_ident":                           true,
	"syslog_sequence_numbers":                true,
	"syslog_split_messages":                  true,
	"tcp_keepalives_count":                   true,
	"tcp_keepalives_idle":                    true,
	"tcp_keepalives_interval":                true,
	"tcp_user_timeout":                       true,
	"temp_buffers":                           true,
	"temp_file_limit":                        true,
	"temp_tablespaces":                       true,
	"timezone":                               true,
	"timezone_abbreviations":                 true,
	"trace_notify":                           true,
	"trace_recovery_messages":                true,
	"trace_sort":                             true,
	"track_activities":                       true,
	"track_activity_query_size":              true,
	"track_commit_timestamp":                 true,
	"track_counts":                           true,
	"track_functions":                        true,
	"track_io_timing":                        true,
	"track_wal_io_timing":                    true,
	"transaction_deferrable":                 true,
	"transaction_isolation":                  true,
	"transaction_read_only":                  true,
	"transform_null_equals":                  true,
	"unix_socket_directories":                true,
	"unix_socket_group":                      true,
	"unix_socket_permissions":                true,
	"update_process_title":                   true,
	"vacuum_cost_delay":                      true,
	"vacuum_cost_limit":                      true,
	"vacuum_cost_page_dirty":                 true,
	"vacuum_cost_page_hit":                   true,
	"vacuum_cost_page_miss":                  true,
	"vacuum_defer_cleanup_age":               true,
	"vacuum_failsafe_age":                    true,
	"vacuum_freeze_min_age":                  true,
	"vacuum_freeze_table_age":                true,
	"vacuum_multixact_failsafe_age":          true,
	"vacuum_multixact_freeze_min_age":        true,
	"vacuum_multixact_freeze_table_age":      true,
	"wal_buffers":                            true,
	"wal_compression":                        true,
	"wal_decode_buffer_size":                 true,
	"wal_init_zero":                          true,
	"wal_keep_size":                          true,
	"wal_level":                              true,
	"wal_log_hints":                          true,
	"wal_receiver_create_temp_slot":          true,
	"wal_receiver_status_interval":           true,
	"wal_receiver_timeout":                   true,
	"wal_recycle":                            true,
	"wal_retrieve_retry_interval":            true,
	"wal_sender_timeout":                     true,
	"wal_skip_threshold":                     true,
	"wal_sync_method":                        true,
	"wal_writer_delay":                       true,
	"wal_writer_flush_after":                 true,
	"work_mem":                               true,
	"xmlbinary":                              true,
	"xmloption":                              true,
	"zero_damaged_pages":                     true,
}

// pgPresetParameters are PostgreSQL's read-only parameters (guc.c's PGC_INTERNAL: SHOW answers
// them, SET is error 55P02).
var pgPresetParameters = map[string]bool{
	"block_size":                       true,
	"data_checksums":                   true,
	"data_directory_mode":              true,
	"debug_assertions":                 true,
	"in_hot_standby":                   true,
	"integer_datetimes":                true,
	"lc_collate":                       true,
	"lc_ctype":                         true,
	"max_function_args":                true,
	"max_identifier_length":            true,
	"max_index_keys":                   true,
	"segment_size":                     true,
	"server_encoding":                  true,
	"server_version":                   true,
	"server_version_num":               true,
	"shared_memory_size":               true,
	"shared_memory_size_in_huge_pages": true,
	"ssl_library":                      true,
	"wal_block_size":                   true,
	"wal_segment_size":                 true,
}

// startupSettings sets the parameters of the startup message as SET would: those named there
// (pgjdbc sends extra_float_digits …) and each "-c name=value" or "--name=value" of its options
// (libpq's options= and PGOPTIONS, psycopg2's options=). A name that is no parameter, or a value
// SET would refuse, is left out, and so are the ones that say how values are written (TimeZone,
// DateStyle, IntervalStyle, client_encoding: pgjdbc sends the JVM's zone): the server writes
// them in UTC, ISO and UTF-8 whatever the client asks, as the ParameterStatus it sends says, so
// SHOW says that too.
func (c *conn) startupSettings(params map[string]string) {
	set := func(name, v string) {
		name = strings.ToLower(strings.ReplaceAll(name, "-", "_"))
		switch name {
		case "timezone", "datestyle", "intervalstyle", "client_encoding":
			return
		}
		if settable(name) == nil && checkSetting(name, v) == nil {
			c.keepSetting(name, v)
		}
	}
	for k, v := range params {
		switch k {
		case "user", "database", "options", "application_name", "replication":
		default:
			set(k, v)
		}
	}
	opts := startupOptions(params["options"])
	for i := 0; i < len(opts); i++ {
		o := opts[i]
		switch {
		case o == "-c" && i+1 < len(opts):
			i++
			o = opts[i]
		case strings.HasPrefix(o, "-c"):
			o = o[2:]
		case strings.HasPrefix(o, "--"):
			o = o[2:]
		default:
			continue
		}
		if name, v, ok := strings.Cut(o, "="); ok {
			set(name, v)
		}
	}
}

// startupOptions splits the options startup parameter at spaces, a backslash keeping the next
// character (PostgreSQL's pg_split_opts).
func startupOptions(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case s[i] == ' ' || s[i] == '\t':
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteByte(s[i])
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// checkSetting is nil when v is a value of parameter name that the server can use, else
// PostgreSQL's error for it: statement_timeout, which bounds the connection's queries, must be
// a duration. The parameters that say how the server writes values take only the way it writes
// them — TimeZone UTC (or a name or offset for it), DateStyle ISO, IntervalStyle postgres,
// client_encoding UTF8 — since SET of another value would change nothing but what SHOW says,
// and a client would read values in a zone, style or encoding they are not in.
func checkSetting(name, v string) error {
	invalid := func(why string) error {
		return &pgError{code: "22023", msg: fmt.Sprintf("invalid value for parameter %q: %q%s", name, v, why)}
	}
	switch name {
	case "statement_timeout":
		if _, err := pgDuration(v); err != nil {
			return invalid("")
		}
	case "timezone":
		if !utcZone(v) {
			return invalid(": auditlake writes every timestamp with time zone in UTC (+00); convert in the query, e.g. with AT TIME ZONE")
		}
	case "datestyle":
		for _, part := range strings.Split(v, ",") {
			switch strings.ToUpper(strings.TrimSpace(part)) {
			case "ISO", "MDY", "DMY", "YMD", "US", "NONEURO", "NONEUROPEAN", "EURO", "EUROPEAN", "DEFAULT":
			default:
				return invalid(": auditlake writes dates in the ISO style only")
			}
		}
	case "intervalstyle":
		if !strings.EqualFold(strings.TrimSpace(v), "postgres") {
			return invalid(": auditlake writes intervals in the postgres style only")
		}
	case "client_encoding":
		switch strings.NewReplacer("-", "", "_", "").Replace(strings.ToUpper(strings.TrimSpace(v))) {
		case "UTF8", "UNICODE":
		default:
			return invalid(": auditlake speaks UTF8 only")
		}
	}
	return nil
}

// utcZone says whether v, a TimeZone value, names UTC: a name of it (UTC, Etc/UTC, GMT, Z…), an
// offset of zero (0, +00, '+00:00', INTERVAL '0' HOUR TO MINUTE), or a POSIX UTC0.
func utcZone(v string) bool {
	z := strings.ToLower(strings.TrimSpace(v))
	if rest, ok := strings.CutPrefix(z, "interval "); ok { // SET TIME ZONE INTERVAL '+00:00' HOUR TO MINUTE
		z, _, _ = strings.Cut(strings.TrimSpace(rest), " ")
	}
	z = strings.TrimPrefix(z, "etc/")
	switch z {
	case "utc", "uct", "gmt", "z", "zulu", "universal", "greenwich", "gmt0", "gmt+0", "gmt-0", "utc0", "utc+0", "utc-0":
		return true
	}
	return strings.ContainsRune(z, '0') && strings.Trim(strings.TrimLeft(z, "+-"), "0:.") == ""
}

// statementTimeout is the connection's statement_timeout (0: none), set by SET or at startup.
func (c *conn) statementTimeout() time.Duration {
	d, _ := pgDuration(c.settings["statement_timeout"])
	return d
}

// pgDuration reads a PostgreSQL time parameter in milliseconds: a number, or one with a unit
// (us, ms, s, min, h, d); "" and 0 are none.
func pgDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	i := strings.IndexFunc(v, func(r rune) bool { return (r < '0' || r > '9') && r != '.' && r != '-' && r != '+' })
	num, unit := v, "ms"
	if i >= 0 {
		num, unit = v[:i], strings.TrimSpace(v[i:])
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 || n > 1<<31 {
		return 0, fmt.Errorf("invalid duration %q", v)
	}
	units := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "min": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	u, ok := units[unit]
	if !ok {
		return 0, fmt.Errorf("invalid duration unit %q", unit)
	}
	return time.Duration(n * float64(u)), nil
}
