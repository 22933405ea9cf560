package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/parleyhq/parley/internal/config"
	"github.com/parleyhq/parley/internal/server"
)

func newServeCmd(g *globals) *cobra.Command {
	var configFile string
	var demo bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a Parley front end (all roles in one process)",
		Long: `Run a Parley Standard Edition front end: registrar, proxy, provisioning and the
admin API. On a fresh --data directory with no --config it runs on defaults:
SIP on 127.0.0.1 UDP+TCP 5060 and TLS 5061 (self-signed certificate generated
into the data directory), admin API on 127.0.0.1:8080, SQLite in the data
directory. --demo seeds a sample organization (domain parley.test) and prints
its credentials. SIGINT or SIGTERM drains and stops the server.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(configFile)
			if err != nil {
				return err
			}
			level, _ := cfg.Log.SlogLevel()
			hopts := &slog.HandlerOptions{Level: level}
			var h slog.Handler = slog.NewTextHandler(os.Stderr, hopts)
			if cfg.Log.Format == "json" {
				h = slog.NewJSONHandler(os.Stderr, hopts)
			}
			log := slog.New(h)
			if addr := os.Getenv("PARLEY_PPROF_LISTEN"); addr != "" {
				startPprof(addr, log)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			err = server.Run(ctx, server.Options{DataDir: g.dataDir, Config: cfg, Demo: demo, Out: g.out}, log)
			if err != nil {
				return fmt.Errorf("serve: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "YAML configuration file (default: built-in defaults)")
	cmd.Flags().BoolVar(&demo, "demo", false, "seed the sample organization (domain parley.test) and print its credentials")
	return cmd
}
