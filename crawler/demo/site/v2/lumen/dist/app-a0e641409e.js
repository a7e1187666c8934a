/* placeholder for the ExDoc v0.40.1 client bundle: renders the sidebar from sidebarNodes */
