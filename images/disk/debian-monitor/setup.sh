systemctl enable rx-monitor.service
